//! Multi-row INSERTs whose statements SQLite keeps prepared.

/// Runs a multi-row INSERT on SQLite as statements of 64, 32, …, 1 rows (the binary digits of
/// the row count, in the rows' order), each made from a fixed-size array of rows. Diesel then
/// knows each statement by its type and keeps it prepared on the connection (seven shapes per
/// table at most), where an INSERT of a `Vec` of rows is parsed and planned anew on every run:
/// parsing the lane's multi-row INSERTs was ~13 % of its instructions. `$insert` makes the
/// statement from `$chunk`, the array. Evaluates to the number of rows inserted.
macro_rules! insert_kept_sqlite {
    ($conn:expr, $rows:expr, |$chunk:ident| $insert:expr) => {{
        let mut rows = $rows;
        let mut inserted = 0_usize;
        while !rows.is_empty() {
            let size = [64, 32, 16, 8, 4, 2, 1].into_iter().find(|size| *size <= rows.len()).unwrap_or(1);
            let rest = rows.split_off(size);
            let chunk = std::mem::replace(&mut rows, rest);
            inserted += insert_kept_sqlite!(@sizes $conn, chunk, size, |$chunk| $insert, 64 32 16 8 4 2 1);
        }
        inserted
    }};
    (@sizes $conn:expr, $rows:ident, $size:ident, |$chunk:ident| $insert:expr, $($n:literal)*) => {
        match $size {
            $($n => {
                let Ok($chunk) = <[_; $n]>::try_from($rows) else { unreachable!("a chunk of {} rows", $n) };
                diesel::RunQueryDsl::execute($insert, $conn)?
            })*
            _ => unreachable!("chunk sizes are powers of two up to 64"),
        }
    };
}
