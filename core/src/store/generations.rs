//! Image generations and their stored images. Images live in the database: one backup covers
//! everything, and several server processes sharing one PostgreSQL serve each other's images.
//! Their bytes are content-addressed and kept for a retention period (see [`super::images`]).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::Page;
use super::{naive, utc};
use crate::db::schema::{generation_images, generations, image_blobs};
use crate::db::{padded, DbConn, Kept};
use crate::domain::ResponseFormat;
use crate::ids::{AccountId, ApiKeyId, GenerationId, HoldId, UserId};
use crate::pricing::Quality;
use crate::{Credits, Error, Result};

text_enum! {
    pub enum GenerationStatus {
        /// Asynchronous, waiting for a worker; its cost is held.
        Queued = "queued",
        Processing = "processing",
        Succeeded = "succeeded",
        Failed = "failed",
        /// Canceled before it finished; its hold was released.
        Canceled = "canceled",
    }
}

impl GenerationStatus {
    /// Whether the generation has its outcome (and its hold is resolved).
    pub fn is_final(self) -> bool {
        matches!(self, GenerationStatus::Succeeded | GenerationStatus::Failed | GenerationStatus::Canceled)
    }
}

text_enum! {
    /// How a generation was asked for: answered when done (`sync`), or queued (`async`).
    pub enum GenerationMode {
        Sync = "sync",
        Async = "async",
    }
}

/// The statuses a generation leaves for its outcome.
const UNFINISHED: [&str; 2] = ["queued", "processing"];

/// Metadata of one stored image.
#[derive(Clone, Debug)]
pub struct ImageMeta {
    pub index: i32,
    pub content_type: String,
    pub width: i32,
    pub height: i32,
}

#[derive(Clone, Debug)]
pub struct Generation {
    pub id: GenerationId,
    pub account_id: AccountId,
    pub api_key_id: Option<ApiKeyId>,
    pub user_id: Option<UserId>,
    pub model: String,
    pub prompt: String,
    pub size: String,
    pub width: u32,
    pub height: u32,
    pub quality: Quality,
    pub n: u32,
    pub response_format: ResponseFormat,
    pub status: GenerationStatus,
    pub mode: GenerationMode,
    /// The model's price per image when it was asked for.
    pub credits_per_image: Credits,
    /// What it costs (held while queued or processing).
    pub credits_cost: Credits,
    /// What was charged: the cost once succeeded, zero otherwise.
    pub credits_charged: Credits,
    pub hold_id: HoldId,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub images: Vec<ImageMeta>,
    /// When it was asked for (and queued, if asynchronous).
    pub created_at: DateTime<Utc>,
    /// When a worker started it (at once for a synchronous one).
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = generations)]
struct GenerationRow {
    id: String,
    account_id: String,
    api_key_id: Option<String>,
    user_id: Option<String>,
    model: String,
    prompt: String,
    size: String,
    width: i32,
    height: i32,
    quality: String,
    n: i32,
    response_format: String,
    status: String,
    credits_cost: i64,
    credits_charged: i64,
    hold_id: String,
    error_code: Option<String>,
    error_message: Option<String>,
    created_at: chrono::NaiveDateTime,
    completed_at: Option<chrono::NaiveDateTime>,
    credits_per_image: i64,
    mode: String,
    started_at: Option<chrono::NaiveDateTime>,
}

impl GenerationRow {
    fn into_generation(self, images: Vec<ImageMeta>) -> Result<Generation> {
        Ok(Generation {
            id: GenerationId::from_db(self.id),
            account_id: AccountId::from_db(self.account_id),
            api_key_id: self.api_key_id.map(ApiKeyId::from_db),
            user_id: self.user_id.map(UserId::from_db),
            model: self.model,
            prompt: self.prompt,
            size: self.size,
            width: self.width as u32,
            height: self.height as u32,
            quality: Quality::from_db(&self.quality)?,
            n: self.n as u32,
            response_format: ResponseFormat::from_db(&self.response_format)?,
            status: GenerationStatus::from_db(&self.status)?,
            mode: GenerationMode::from_db(&self.mode)?,
            credits_per_image: Credits::from_units(self.credits_per_image),
            credits_cost: Credits::from_units(self.credits_cost),
            credits_charged: Credits::from_units(self.credits_charged),
            hold_id: HoldId::from_db(self.hold_id),
            error_code: self.error_code,
            error_message: self.error_message,
            images,
            created_at: utc(self.created_at),
            started_at: self.started_at.map(utc),
            completed_at: self.completed_at.map(utc),
        })
    }
}

/// Inserts new generations (`processing`, or `queued`) in one statement (in the transaction that reserves their
/// holds).
pub fn insert_many(conn: &mut DbConn, many: &[&Generation]) -> Result<()> {
    let rows: Vec<_> = many
        .iter()
        .map(|g| {
            (
                generations::id.eq(g.id.as_str().to_owned()),
                generations::account_id.eq(g.account_id.as_str().to_owned()),
                generations::api_key_id.eq(g.api_key_id.as_ref().map(|key| key.as_str().to_owned())),
                generations::user_id.eq(g.user_id.as_ref().map(|user| user.as_str().to_owned())),
                generations::model.eq(g.model.clone()),
                generations::prompt.eq(g.prompt.clone()),
                generations::size.eq(g.size.clone()),
                generations::width.eq(g.width as i32),
                generations::height.eq(g.height as i32),
                generations::quality.eq(g.quality.as_str()),
                generations::n.eq(g.n as i32),
                generations::response_format.eq(g.response_format.as_str()),
                generations::status.eq(g.status.as_str()),
                generations::mode.eq(g.mode.as_str()),
                generations::credits_per_image.eq(g.credits_per_image.units()),
                generations::credits_cost.eq(g.credits_cost.units()),
                generations::hold_id.eq(g.hold_id.as_str().to_owned()),
                generations::created_at.eq(naive(g.created_at)),
                generations::started_at.eq(g.started_at.map(naive)),
            )
        })
        .collect();
    // Multi-row inserts cannot be expressed over the multi-backend, so run on the concrete one.
    match conn {
        DbConn::Sqlite(c) => {
            insert_kept_sqlite!(c, rows, |rows| diesel::insert_into(generations::table).values(rows))
        }
        DbConn::Pg(c) => diesel::insert_into(generations::table).values(rows).execute(c)?,
    };
    Ok(())
}

/// One image of a generation, its bytes already stored by [`super::images::store`].
pub struct NewImage {
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    /// [`blob_id`] of its bytes.
    pub blob_id: String,
}

/// Marks generations succeeded with their images (in the capture transaction, whose claim of
/// their holds decided it), each charged its `credits_cost` (what its hold reserved). One that a
/// lost worker's lease left queued again is marked too: the hold, not the status, decides.
pub fn mark_succeeded_set(
    conn: &mut DbConn,
    succeeded: &[(&GenerationId, &[NewImage])],
    now: DateTime<Utc>,
) -> Result<()> {
    insert_images(conn, succeeded)?;
    let ids: Vec<&str> = succeeded.iter().map(|(id, _)| id.as_str()).collect();
    Kept(
        diesel::update(
            generations::table
                .filter(generations::id.eq_any(padded(&ids)))
                .filter(generations::status.eq_any(UNFINISHED)),
        )
        .set((
            generations::status.eq("succeeded"),
            generations::worker.eq(None::<String>),
            generations::lease_expires_at.eq(None::<chrono::NaiveDateTime>),
            generations::credits_charged.eq(generations::credits_cost),
            generations::completed_at.eq(naive(now)),
        )),
    )
    .execute(conn)?;
    Ok(())
}

/// Records which blobs the generations showed, in one statement.
fn insert_images(conn: &mut DbConn, shown: &[(&GenerationId, &[NewImage])]) -> Result<()> {
    let rows: Vec<_> = shown
        .iter()
        .flat_map(|(id, images)| {
            images.iter().enumerate().map(move |(index, image)| {
                (
                    generation_images::generation_id.eq(id.as_str().to_owned()),
                    generation_images::idx.eq(index as i32),
                    generation_images::content_type.eq(image.content_type.clone()),
                    generation_images::width.eq(image.width as i32),
                    generation_images::height.eq(image.height as i32),
                    generation_images::blob_id.eq(image.blob_id.clone()),
                )
            })
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    // Multi-row inserts cannot be expressed over the multi-backend, so run on the concrete one.
    match conn {
        DbConn::Sqlite(c) => {
            insert_kept_sqlite!(c, rows, |rows| diesel::insert_into(generation_images::table).values(rows))
        }
        DbConn::Pg(c) => diesel::insert_into(generation_images::table).values(rows).execute(c)?,
    };
    Ok(())
}

/// Marks an unfinished generation failed; nothing was charged. Answers whether it was
/// unfinished.
pub fn mark_failed(
    conn: &mut DbConn,
    id: &GenerationId,
    code: &str,
    message: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    mark_ended(conn, id, GenerationStatus::Failed, Some((code, message)), now)
}

/// Marks an unfinished generation canceled; answers whether it was unfinished.
pub fn mark_canceled(conn: &mut DbConn, id: &GenerationId, now: DateTime<Utc>) -> Result<bool> {
    mark_ended(conn, id, GenerationStatus::Canceled, None, now)
}

fn mark_ended(
    conn: &mut DbConn,
    id: &GenerationId,
    status: GenerationStatus,
    error: Option<(&str, &str)>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let (code, message) = error.unzip();
    let updated = diesel::update(generations::table.find(id.as_str()).filter(generations::status.eq_any(UNFINISHED)))
        .set((
            generations::status.eq(status.as_str()),
            generations::worker.eq(None::<String>),
            generations::lease_expires_at.eq(None::<chrono::NaiveDateTime>),
            generations::error_code.eq(code),
            generations::error_message.eq(message),
            generations::completed_at.eq(naive(now)),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

fn images_of(conn: &mut DbConn, id: &str) -> Result<Vec<ImageMeta>> {
    Ok(generation_images::table
        .filter(generation_images::generation_id.eq(id))
        .order(generation_images::idx.asc())
        .select((
            generation_images::idx,
            generation_images::content_type,
            generation_images::width,
            generation_images::height,
        ))
        .load::<(i32, String, i32, i32)>(conn)?
        .into_iter()
        .map(|(index, content_type, width, height)| ImageMeta { index, content_type, width, height })
        .collect())
}

/// One of the account's generations.
pub fn get(conn: &mut DbConn, account: &AccountId, id: &GenerationId) -> Result<Generation> {
    let row = generations::table
        .find(id.as_str())
        .filter(generations::account_id.eq(account.as_str()))
        .select(GenerationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("generation"))?;
    let images = images_of(conn, id.as_str())?;
    row.into_generation(images)
}

/// The account's generations, newest first, optionally of one model.
pub fn list(
    conn: &mut DbConn,
    account: &AccountId,
    model: Option<&str>,
    after: Option<&GenerationId>,
    limit: i64,
) -> Result<Page<Generation>> {
    let mut query = generations::table.filter(generations::account_id.eq(account.as_str())).into_boxed();
    if let Some(model) = model {
        query = query.filter(generations::model.eq(model.to_string()));
    }
    if let Some(after) = after {
        let cursor = get(conn, account, after).map_err(super::cursor_error)?;
        let at = naive(cursor.created_at);
        query = query.filter(
            generations::created_at
                .lt(at)
                .or(generations::created_at.eq(at).and(generations::id.lt(after.as_str().to_string()))),
        );
    }
    let rows: Vec<GenerationRow> = query
        .order((generations::created_at.desc(), generations::id.desc()))
        .limit(limit + 1)
        .select(GenerationRow::as_select())
        .load(conn)?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let images = images_of(conn, &row.id)?;
        items.push(row.into_generation(images)?);
    }
    Ok(Page::from_overfetch(items, limit))
}

/// Image `index` of a generation: its content type and bytes. With `account`, only that
/// account's generation; without, any (the caller has checked a signed URL).
///
/// The images of a generation created before `kept_since` are deleted (or about to be): that
/// answers [`Error::Gone`], whatever index is asked.
pub fn image(
    conn: &mut DbConn,
    account: Option<&AccountId>,
    id: &GenerationId,
    index: i32,
    kept_since: DateTime<Utc>,
) -> Result<(String, Vec<u8>)> {
    let (owner, created_at): (String, chrono::NaiveDateTime) = generations::table
        .find(id.as_str())
        .select((generations::account_id, generations::created_at))
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("generation"))?;
    if account.is_some_and(|account| account.as_str() != owner) {
        return Err(Error::NotFound("generation"));
    }
    if utc(created_at) < kept_since {
        return Err(Error::Gone {
            message: "this generation's images have been deleted at the end of their retention period; the \
                      generation and its charge remain"
                .into(),
        });
    }
    generation_images::table
        .inner_join(image_blobs::table)
        .filter(generation_images::generation_id.eq(id.as_str()))
        .filter(generation_images::idx.eq(index))
        .select((generation_images::content_type, image_blobs::data))
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("image"))
}
