//! Usage analytics: credits, generations and images per model, day, API key or member.

use actix_web::{get, web, HttpResponse};
use apinfer_core::store::api_keys::Scope;
use apinfer_core::store::usage::{self, Bucket, GroupBy};
use apinfer_core::Credits;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Which usage to report.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// First day included (`YYYY-MM-DD`; an RFC 3339 time is accepted too, for its UTC day);
    /// default 30 days ago.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// First day excluded (`YYYY-MM-DD`, or RFC 3339); default tomorrow (so today is included).
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<String>,
    /// `model` (default), `day`, `api_key` or `member`.
    #[param(value_type = Option<crate::enums::GroupBy>)]
    pub group_by: Option<String>,
    /// For the export: `csv` (the only format).
    #[param(value_type = Option<crate::enums::ExportFormat>)]
    pub format: Option<String>,
}

/// One group's usage.
#[derive(Serialize, ToSchema)]
pub struct UsageBucket {
    /// The model id, the day, the API key id or the user id (empty for a spend without a key).
    pub key: String,
    #[schema(value_type = String, format = "decimal", example = "12.25")]
    pub credits: Credits,
    pub generations: i64,
    pub images: i64,
}

impl From<Bucket> for UsageBucket {
    fn from(b: Bucket) -> Self {
        UsageBucket { credits: b.credits(), key: b.key, generations: b.generations, images: b.images }
    }
}

/// Usage over a period (UTC days; `to` excluded).
#[derive(Serialize, ToSchema)]
pub struct UsageReport {
    /// First day included.
    pub from: NaiveDate,
    /// First day excluded.
    pub to: NaiveDate,
    #[schema(value_type = crate::enums::GroupBy)]
    pub group_by: String,
    #[schema(value_type = String, format = "decimal", example = "12.25")]
    pub total_credits: Credits,
    pub total_generations: i64,
    pub buckets: Vec<UsageBucket>,
}

fn parse_day(text: &str, param: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| text.parse::<DateTime<Utc>>().map(|t| t.date_naive()))
        .map_err(|_| {
            ApiError::invalid(
                "invalid_parameter",
                format!("{param} must be YYYY-MM-DD or an RFC 3339 time"),
                Some(param),
            )
        })
}

async fn report(caller: Caller, state: &AppState, params: &UsageParams) -> Result<UsageReport, ApiError> {
    caller.require_scope(Scope::UsageRead)?;
    let today = state.now().date_naive();
    let from = params.from.as_deref().map(|f| parse_day(f, "from")).transpose()?.unwrap_or(today - Duration::days(30));
    let to = params.to.as_deref().map(|t| parse_day(t, "to")).transpose()?.unwrap_or(today + Duration::days(1));
    if params.format.as_deref().is_some_and(|f| f != "csv") {
        return Err(ApiError::invalid("invalid_format", "format must be csv", Some("format")));
    }
    if to <= from {
        // Two valid days in the wrong order: well-formed, but no period.
        let mut e = ApiError::invalid("invalid_range", "to must be after from", Some("to"));
        e.kind = crate::error::ErrorKind::Unprocessable;
        return Err(e);
    }
    let group_by = match params.group_by.as_deref() {
        None => GroupBy::Model,
        Some(g) => GroupBy::parse(g).ok_or_else(|| {
            ApiError::invalid("invalid_group_by", "group_by must be model, day, api_key or member", Some("group_by"))
        })?,
    };
    let buckets = state.db(move |conn| usage::query(conn, &caller.account_id, from, to, group_by)).await?;
    let total_credits = buckets.iter().fold(Credits::ZERO, |sum, b| sum.checked_add(b.credits()).unwrap_or(sum));
    let total_generations = buckets.iter().map(|b| b.generations).sum();
    Ok(UsageReport {
        from,
        to,
        group_by: group_by.as_str().to_string(),
        total_credits,
        total_generations,
        buckets: buckets.into_iter().map(UsageBucket::from).collect(),
    })
}

/// Usage per model, day, API key or member (scope `usage:read`).
#[utoipa::path(tag = "usage", operation_id = "usage_retrieve", security(("bearer" = [])), params(UsageParams), responses(
    (status = 200, description = "The report", body = UsageReport),
    (status = 400, description = "Invalid dates or group_by", body = ErrorBody),
    (status = 403, description = "The key lacks `usage:read`", body = ErrorBody),
))]
#[get("/usage")]
pub async fn usage_report(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<UsageParams>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(report(caller, &state, &params).await?))
}

/// The same rows as `/v1/usage`, as CSV with a header row (scope `usage:read`).
#[utoipa::path(tag = "usage", operation_id = "usage_export", security(("bearer" = [])), params(UsageParams), responses(
    (status = 200, description = "CSV: key,credits,generations,images", body = String, content_type = "text/csv"),
    (status = 400, description = "Invalid dates, group_by or format", body = ErrorBody),
))]
#[get("/usage/export")]
pub async fn export(
    caller: Caller,
    state: web::Data<AppState>,
    params: web::Query<UsageParams>,
) -> Result<HttpResponse, ApiError> {
    let report = report(caller, &state, &params).await?;
    let header = format!("{},credits,generations,images\n", report.group_by);
    let rows = report.buckets.into_iter().map(|b| {
        // Keys are ids, model slugs or dates: no commas or quotes to escape.
        Ok::<_, actix_web::Error>(web::Bytes::from(format!("{},{},{},{}\n", b.key, b.credits, b.generations, b.images)))
    });
    let body = futures_util::stream::iter(std::iter::once(Ok(web::Bytes::from(header))).chain(rows));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"apinfer-usage.csv\""))
        .streaming(body))
}
