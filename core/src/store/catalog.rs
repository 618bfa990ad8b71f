//! The catalog: credit packages and image models with their prices.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::{naive, utc};
use crate::credits::Currency;
use crate::db::schema::{models, packages};
use crate::db::{is_unique_violation, DbConn};
use crate::pricing::Tier;
use crate::{Credits, Error, Money, Result};

#[derive(Clone, Debug)]
pub struct Package {
    pub id: String,
    pub name: String,
    pub credits: Credits,
    pub price: Money,
    pub popular: bool,
    pub active: bool,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub id: String,
    pub name: String,
    pub tier: Tier,
    pub credits_per_image: Credits,
    pub sizes: Vec<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = packages)]
struct PackageRow {
    id: String,
    name: String,
    credits: i64,
    price_minor: i64,
    currency: String,
    popular: bool,
    active: bool,
}

impl TryFrom<PackageRow> for Package {
    type Error = Error;

    fn try_from(row: PackageRow) -> Result<Self> {
        Ok(Package {
            id: row.id,
            name: row.name,
            credits: Credits::from_units(row.credits),
            price: Money::from_minor(row.price_minor, Currency::from_db(&row.currency)?),
            popular: row.popular,
            active: row.active,
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = models)]
struct ModelRow {
    id: String,
    name: String,
    tier: String,
    credits_per_image: i64,
    sizes: String,
    active: bool,
    created_at: chrono::NaiveDateTime,
}

impl TryFrom<ModelRow> for Model {
    type Error = Error;

    fn try_from(row: ModelRow) -> Result<Self> {
        Ok(Model {
            id: row.id,
            name: row.name,
            tier: Tier::from_db(&row.tier)?,
            credits_per_image: Credits::from_units(row.credits_per_image),
            sizes: row.sizes.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            active: row.active,
            created_at: utc(row.created_at),
        })
    }
}

/// Packages in price order; inactive ones only when `include_inactive`.
pub fn list_packages(conn: &mut DbConn, include_inactive: bool) -> Result<Vec<Package>> {
    let mut query = packages::table.into_boxed();
    if !include_inactive {
        query = query.filter(packages::active.eq(true));
    }
    query
        .order((packages::price_minor.asc(), packages::id.asc()))
        .select(PackageRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Package::try_from)
        .collect()
}

pub fn get_package(conn: &mut DbConn, id: &str) -> Result<Package> {
    packages::table
        .find(id)
        .select(PackageRow::as_select())
        .first(conn)
        .optional()?
        .map(Package::try_from)
        .ok_or(Error::NotFound("package"))?
}

/// Models by id; inactive ones only when `include_inactive`.
pub fn list_models(conn: &mut DbConn, include_inactive: bool) -> Result<Vec<Model>> {
    let mut query = models::table.into_boxed();
    if !include_inactive {
        query = query.filter(models::active.eq(true));
    }
    query.order(models::id.asc()).select(ModelRow::as_select()).load(conn)?.into_iter().map(Model::try_from).collect()
}

pub fn get_model(conn: &mut DbConn, id: &str) -> Result<Model> {
    models::table
        .find(id)
        .select(ModelRow::as_select())
        .first(conn)
        .optional()?
        .map(Model::try_from)
        .ok_or(Error::NotFound("model"))?
}

/// Catalog ids are short slugs: lowercase letters, digits, `-`, `_`, `.`.
fn check_slug(id: &str, param: &'static str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("invalid_id", "id must be 1–64 of a-z, 0-9, '-', '_', '.'", param))
    }
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("invalid_name", "name must be 1–100 characters", "name"));
    }
    Ok(())
}

/// Sizes are `WIDTHxHEIGHT`, each side 64–4096 pixels.
pub fn parse_size(size: &str) -> Option<(u32, u32)> {
    let (w, h) = size.split_once('x')?;
    let (w, h): (u32, u32) = (w.parse().ok()?, h.parse().ok()?);
    ((64..=4096).contains(&w) && (64..=4096).contains(&h)).then_some((w, h))
}

fn check_sizes(sizes: &[String]) -> Result<()> {
    if sizes.is_empty() || sizes.iter().any(|s| parse_size(s).is_none()) {
        return Err(Error::invalid(
            "invalid_sizes",
            "sizes must be a non-empty list of WIDTHxHEIGHT (64–4096)",
            "sizes",
        ));
    }
    Ok(())
}

/// Adds a model; its price must lie within its tier's range.
pub fn create_model(conn: &mut DbConn, model: &Model, now: DateTime<Utc>) -> Result<Model> {
    check_slug(&model.id, "id")?;
    check_name(&model.name)?;
    check_sizes(&model.sizes)?;
    model.tier.check_price(model.credits_per_image)?;
    diesel::insert_into(models::table)
        .values((
            models::id.eq(&model.id),
            models::name.eq(model.name.trim()),
            models::tier.eq(model.tier.as_str()),
            models::credits_per_image.eq(model.credits_per_image.units()),
            models::sizes.eq(model.sizes.join(",")),
            models::active.eq(model.active),
            models::created_at.eq(naive(now)),
        ))
        .execute(conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::conflict("model_exists", "a model with this id already exists")
            } else {
                e.into()
            }
        })?;
    get_model(conn, &model.id)
}

/// Changes to a model; the result must still respect its tier's range.
#[derive(Default)]
pub struct ModelChanges {
    pub name: Option<String>,
    pub tier: Option<Tier>,
    pub credits_per_image: Option<Credits>,
    pub sizes: Option<Vec<String>>,
    pub active: Option<bool>,
}

pub fn update_model(conn: &mut DbConn, id: &str, changes: ModelChanges) -> Result<Model> {
    crate::db::write_transaction(conn, |conn| {
        let mut model = get_model(conn, id)?;
        if let Some(name) = changes.name {
            check_name(&name)?;
            model.name = name.trim().to_string();
        }
        if let Some(sizes) = changes.sizes {
            check_sizes(&sizes)?;
            model.sizes = sizes;
        }
        model.tier = changes.tier.unwrap_or(model.tier);
        model.credits_per_image = changes.credits_per_image.unwrap_or(model.credits_per_image);
        model.active = changes.active.unwrap_or(model.active);
        model.tier.check_price(model.credits_per_image)?;
        diesel::update(models::table.find(id))
            .set((
                models::name.eq(&model.name),
                models::tier.eq(model.tier.as_str()),
                models::credits_per_image.eq(model.credits_per_image.units()),
                models::sizes.eq(model.sizes.join(",")),
                models::active.eq(model.active),
            ))
            .execute(conn)?;
        Ok(model)
    })
}

fn check_package(credits: Credits, price: Money) -> Result<()> {
    if !credits.is_positive() {
        return Err(Error::invalid("invalid_amount", "credits must be positive", "credits"));
    }
    if price.minor() <= 0 {
        // A well-formed amount, but nothing can be sold for free.
        return Err(Error::unprocessable("invalid_amount", "price.amount must be positive", "price.amount"));
    }
    Ok(())
}

pub fn create_package(conn: &mut DbConn, package: &Package, now: DateTime<Utc>) -> Result<Package> {
    check_slug(&package.id, "id")?;
    check_name(&package.name)?;
    check_package(package.credits, package.price)?;
    diesel::insert_into(packages::table)
        .values((
            packages::id.eq(&package.id),
            packages::name.eq(package.name.trim()),
            packages::credits.eq(package.credits.units()),
            packages::price_minor.eq(package.price.minor()),
            packages::currency.eq(package.price.currency().as_str()),
            packages::popular.eq(package.popular),
            packages::active.eq(package.active),
            packages::created_at.eq(naive(now)),
        ))
        .execute(conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::conflict("package_exists", "a package with this id already exists")
            } else {
                e.into()
            }
        })?;
    get_package(conn, &package.id)
}

#[derive(Default)]
pub struct PackageChanges {
    pub name: Option<String>,
    pub credits: Option<Credits>,
    pub price: Option<Money>,
    pub popular: Option<bool>,
    pub active: Option<bool>,
}

pub fn update_package(conn: &mut DbConn, id: &str, changes: PackageChanges) -> Result<Package> {
    crate::db::write_transaction(conn, |conn| {
        let mut package = get_package(conn, id)?;
        if let Some(name) = changes.name {
            check_name(&name)?;
            package.name = name.trim().to_string();
        }
        package.credits = changes.credits.unwrap_or(package.credits);
        package.price = changes.price.unwrap_or(package.price);
        package.popular = changes.popular.unwrap_or(package.popular);
        package.active = changes.active.unwrap_or(package.active);
        check_package(package.credits, package.price)?;
        diesel::update(packages::table.find(id))
            .set((
                packages::name.eq(&package.name),
                packages::credits.eq(package.credits.units()),
                packages::price_minor.eq(package.price.minor()),
                packages::currency.eq(package.price.currency().as_str()),
                packages::popular.eq(package.popular),
                packages::active.eq(package.active),
            ))
            .execute(conn)?;
        Ok(package)
    })
}
