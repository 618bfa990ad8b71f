//! Lists a page at a time: newest first, continued after a cursor (the last item's id).

/// One page of a newest-first listing.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// A page from `limit + 1` fetched items: the extra one only says another page follows.
    pub fn from_overfetch(mut items: Vec<T>, limit: i64) -> Self {
        let has_more = items.len() as i64 > limit;
        items.truncate(limit.max(0) as usize);
        Page { items, has_more }
    }
}

/// A cursor that names nothing in the list is not found (404, like an id of another
/// account's); a database failure while looking it up stays what it is.
pub(crate) fn cursor_error(e: crate::Error) -> crate::Error {
    match e {
        crate::Error::NotFound(_) => crate::Error::NotFound(CURSOR),
        other => other,
    }
}

/// What a cursor that names no item of its list is not found as.
pub const CURSOR: &str = "item of this list for the cursor";
