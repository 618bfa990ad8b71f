//! Reads an OpenAPI 3.1 document into [`Api`], the small model of what the SDK templates need.
//!
//! Only the constructs apinfer's spec uses are understood; anything else is an error that names
//! the construct and where it is (`components.schemas.Foo.properties.bar: unsupported key
//! "not"`), so a spec change that the SDKs cannot express fails the generator instead of
//! producing a quietly wrong client.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value};

use crate::naming;

/// The whole API as the SDKs see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    /// `info.title`.
    pub title: String,
    /// `info.version`: also the SDKs' package version.
    pub version: String,
    /// `info.description`.
    pub description: Option<String>,
    /// Named types (component schemas and inline objects/enums hoisted out of them), by name.
    pub types: Vec<NamedType>,
    /// Resources (one per tag), in the order of the top-level `tags` list.
    pub resources: Vec<Resource>,
}

/// A named model type.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedType {
    /// PascalCase name.
    pub name: String,
    /// The schema's description.
    pub description: Option<String>,
    /// What it is.
    pub kind: TypeKind,
}

/// The shape of a named type.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeKind {
    /// A JSON object with known properties.
    Object(Vec<Field>),
    /// A string enum; values a newer server adds must still decode.
    Enum(Vec<String>),
    /// One of several object types (`oneOf`), told apart by `discriminator` when there is one.
    Union {
        /// Names of the variant types (all objects).
        variants: Vec<String>,
        /// The property whose (single-valued enum) value names the variant.
        discriminator: Option<String>,
    },
}

/// A property of an object type.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Name on the wire.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Listed in `required`.
    pub required: bool,
    /// May be JSON `null`.
    pub nullable: bool,
    /// Its description.
    pub description: Option<String>,
}

/// A type use.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Type {
    /// `type: string`.
    String,
    /// `type: string, format: decimal`: an exact decimal sent as a string (credits).
    Decimal,
    /// `type: string, format: date-time`.
    DateTime,
    /// `type: integer`.
    Integer,
    /// `type: number` (never credits: those are decimals).
    Number,
    /// `type: boolean`.
    Boolean,
    /// Any JSON value (`{}`).
    Any,
    /// `type: array`.
    Array(Box<Type>),
    /// `type: object` with only `additionalProperties: <schema>`.
    Map(Box<Type>),
    /// A named type.
    Named(String),
}

/// The operations of one tag.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The tag, as written (`api_keys`).
    pub tag: String,
    /// The tag's description.
    pub description: Option<String>,
    /// Its operations, in path order.
    pub operations: Vec<Operation>,
}

/// One HTTP operation, as an SDK method.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// snake_case method name, unique in its resource (see [`naming::method_name`]).
    pub name: String,
    /// `operationId`.
    pub operation_id: String,
    /// Upper-case HTTP method.
    pub http_method: String,
    /// Path template, `/v1/admin/accounts/{id}/adjustments`.
    pub path: String,
    /// One-line summary.
    pub summary: Option<String>,
    /// Longer description.
    pub description: Option<String>,
    /// Path parameters, in path order.
    pub path_params: Vec<Param>,
    /// Query parameters.
    pub query_params: Vec<Param>,
    /// Header parameters other than `Idempotency-Key` (strings; `name` is the header name).
    pub header_params: Vec<Param>,
    /// Whether the operation declares an `Idempotency-Key` header.
    pub idempotent_key: bool,
    /// The JSON request body: a named object type.
    pub body: Option<Body>,
    /// What a success answers.
    pub response: Response,
    /// Set when the operation is a cursor-paginated list.
    pub pagination: Option<Pagination>,
    /// Whether it needs a bearer token.
    pub auth: bool,
}

/// The doc of the `wait` flag a `Prefer` header parameter becomes in the SDKs.
pub const WAIT_DOC: &str = "Whether to answer once it is done (the default); false queues it and answers at once \
(202, `Prefer: respond-async`): follow it with `wait_for`, the events, or a webhook endpoint.";

/// A path or query parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Name on the wire.
    pub name: String,
    /// Its type (a primitive or an enum).
    pub ty: Type,
    /// Whether it must be given.
    pub required: bool,
    /// Its description.
    pub description: Option<String>,
}

impl Param {
    /// An RFC 7240 `Prefer` header (`respond-async`): the SDKs offer it as a `wait` flag.
    pub fn is_prefer(&self) -> bool {
        self.name.eq_ignore_ascii_case("Prefer")
    }
}

/// A JSON request body.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    /// The named object type of the body.
    pub type_name: String,
    /// Whether the body must be sent.
    pub required: bool,
}

/// What a successful call returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// No body.
    Empty,
    /// A JSON value of this type.
    Json(Type),
    /// Text (`text/*`, YAML).
    Text,
    /// Bytes (`image/*`, `application/octet-stream`), with the declared content type.
    Binary(String),
}

/// A cursor-paginated list: `{data: [T], has_more, next_cursor}` plus a `cursor` query param.
#[derive(Debug, Clone, PartialEq)]
pub struct Pagination {
    /// The item type `T`.
    pub item: Type,
}

impl Api {
    /// The named type called `name`.
    pub fn type_named(&self, name: &str) -> Option<&NamedType> {
        self.types.iter().find(|t| t.name == name)
    }

    /// The fields of the object type `name` (empty when it is not an object).
    pub fn fields_of(&self, name: &str) -> &[Field] {
        match self.type_named(name).map(|t| &t.kind) {
            Some(TypeKind::Object(fields)) => fields,
            _ => &[],
        }
    }
}

const SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "description",
    "title",
    "example",
    "examples",
    "properties",
    "required",
    "additionalProperties",
    "propertyNames",
    "items",
    "$ref",
    "allOf",
    "oneOf",
    "anyOf",
    "enum",
    "const",
    "default",
    "discriminator",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "pattern",
    "readOnly",
    "writeOnly",
    "deprecated",
];
const OPERATION_KEYS: &[&str] = &[
    "tags",
    "summary",
    "description",
    "operationId",
    "parameters",
    "requestBody",
    "responses",
    "security",
    "deprecated",
];
const HTTP_METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// Parses an OpenAPI 3.1 document (YAML or JSON text).
pub fn parse(text: &str) -> Result<Api> {
    let doc: Value = serde_yaml::from_str(text).context("the spec is not valid YAML/JSON")?;
    Parser::new(&doc)?.run()
}

struct Parser<'a> {
    doc: &'a Value,
    /// Component schemas by name, raw.
    components: &'a Map<String, Value>,
    /// Named types produced so far.
    types: BTreeMap<String, NamedType>,
    /// Component schemas that are aliases of a non-named type (e.g. `Credits: {type: string, format: decimal}`).
    aliases: BTreeMap<String, (Type, bool)>,
    /// Component schemas being resolved (cycle guard for aliases).
    resolving: BTreeSet<String>,
}

fn obj<'v>(v: &'v Value, loc: &str) -> Result<&'v Map<String, Value>> {
    v.as_object().ok_or_else(|| anyhow!("{loc}: expected an object"))
}

fn string_at(v: &Map<String, Value>, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn check_keys(map: &Map<String, Value>, allowed: &[&str], loc: &str) -> Result<()> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) && !key.starts_with("x-") {
            bail!("{loc}: unsupported key {key:?} (sdk-gen does not know this construct)");
        }
    }
    Ok(())
}

impl<'a> Parser<'a> {
    fn new(doc: &'a Value) -> Result<Self> {
        let root = obj(doc, "spec")?;
        let version = root.get("openapi").and_then(Value::as_str).unwrap_or_default();
        if !version.starts_with("3.1") {
            bail!("openapi: only OpenAPI 3.1 is supported, found {version:?}");
        }
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let components = match root.get("components").and_then(|c| c.get("schemas")) {
            Some(s) => obj(s, "components.schemas")?,
            None => EMPTY.get_or_init(Map::new),
        };
        Ok(Parser { doc, components, types: BTreeMap::new(), aliases: BTreeMap::new(), resolving: BTreeSet::new() })
    }

    fn run(mut self) -> Result<Api> {
        let root = obj(self.doc, "spec")?;
        let info = obj(root.get("info").ok_or_else(|| anyhow!("info: missing"))?, "info")?;
        let title = string_at(info, "title").ok_or_else(|| anyhow!("info.title: missing"))?;
        let version = string_at(info, "version").ok_or_else(|| anyhow!("info.version: missing"))?;
        let description = string_at(info, "description");

        for name in self.components.keys() {
            self.component(name)?;
        }

        let mut tag_order: Vec<(String, Option<String>)> = Vec::new();
        if let Some(tags) = root.get("tags").and_then(Value::as_array) {
            for t in tags {
                let t = obj(t, "tags[]")?;
                let name = string_at(t, "name").ok_or_else(|| anyhow!("tags[]: a tag without a name"))?;
                tag_order.push((name, string_at(t, "description")));
            }
        }
        let mut by_tag: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
        let paths = obj(root.get("paths").ok_or_else(|| anyhow!("paths: missing"))?, "paths")?;
        for (path, item) in paths {
            let item = obj(item, &format!("paths.{path}"))?;
            let mut allowed = HTTP_METHODS.to_vec();
            allowed.extend(["summary", "description"]);
            check_keys(item, &allowed, &format!("paths.{path}"))?;
            for method in HTTP_METHODS {
                if let Some(op) = item.get(*method) {
                    let loc = format!("paths.{path}.{method}");
                    // `x-sdk-exclude: true` keeps an operation out of the SDKs (e.g. a webhook receiver).
                    if op.get("x-sdk-exclude").and_then(Value::as_bool) == Some(true) {
                        continue;
                    }
                    let (tag, op) = self.operation(path, method, op, &loc)?;
                    by_tag.entry(tag).or_default().push(op);
                }
            }
        }
        for tag in by_tag.keys() {
            if !tag_order.iter().any(|(t, _)| t == tag) {
                tag_order.push((tag.clone(), None));
            }
        }
        let mut resources = Vec::new();
        for (tag, description) in tag_order {
            let Some(mut operations) = by_tag.remove(&tag) else { continue };
            // Operations whose ids give the same method name are told apart by their paths:
            // under `generations`, POST /v1/generations stays `create` and POST
            // /v1/images/generations becomes `create_images`.
            let names: Vec<String> = operations.iter().map(|o| o.name.clone()).collect();
            for op in &mut operations {
                if names.iter().filter(|n| **n == op.name).count() > 1 {
                    let qualifier = naming::path_qualifier(&op.path, &tag);
                    if !qualifier.is_empty() {
                        op.name = format!("{}_{qualifier}", op.name);
                    }
                }
            }
            let mut seen = BTreeSet::new();
            for op in &operations {
                if !seen.insert(op.name.clone()) {
                    bail!("tag {tag:?}: two operations map to the method name {:?}; rename an operationId", op.name);
                }
            }
            resources.push(Resource { tag, description, operations });
        }
        let mut resource_names = BTreeSet::new();
        for r in &resources {
            if !resource_names.insert(naming::snake(&r.tag)) {
                bail!("tags: two tags map to the resource name {:?}", naming::snake(&r.tag));
            }
        }

        let aliases = std::mem::take(&mut self.aliases);
        let mut types: Vec<NamedType> = self.types.into_values().collect();
        for t in &mut types {
            if let TypeKind::Object(fields) = &mut t.kind {
                for f in fields {
                    let (ty, nullable) = resolve_alias(&f.ty, &aliases);
                    f.ty = ty;
                    f.nullable |= nullable;
                }
            }
        }
        for r in &mut resources {
            for op in &mut r.operations {
                for p in op.path_params.iter_mut().chain(op.query_params.iter_mut()) {
                    p.ty = resolve_alias(&p.ty, &aliases).0;
                }
                if let Response::Json(ty) = &op.response {
                    op.response = Response::Json(resolve_alias(ty, &aliases).0);
                }
                if let Some(p) = &mut op.pagination {
                    p.item = resolve_alias(&p.item, &aliases).0;
                }
            }
        }
        Ok(Api { title, version, description, types, resources })
    }

    /// Resolves the component schema `name` into a named type or an alias.
    fn component(&mut self, name: &str) -> Result<()> {
        if self.types.contains_key(name) || self.aliases.contains_key(name) {
            return Ok(());
        }
        if !self.resolving.insert(name.to_owned()) {
            bail!("components.schemas.{name}: a $ref cycle through a non-object schema is not supported");
        }
        naming::check_type_name(name).with_context(|| format!("components.schemas.{name}"))?;
        let schema = self.components.get(name).ok_or_else(|| anyhow!("$ref to unknown schema {name:?}"))?;
        let loc = format!("components.schemas.{name}");
        let (ty, nullable) = self.schema(schema, name, &loc)?;
        // An inline object/enum/union under this name is hoisted to `name` itself; anything else
        // (a decimal string, a ref to another schema) is an alias.
        if ty != Type::Named(name.to_owned()) || nullable {
            self.aliases.insert(name.to_owned(), (ty, nullable));
        }
        self.resolving.remove(name);
        Ok(())
    }

    /// The type of `schema`; inline objects, enums and unions become named types called `ctx`.
    fn schema(&mut self, schema: &Value, ctx: &str, loc: &str) -> Result<(Type, bool)> {
        let map = obj(schema, loc)?;
        check_keys(map, SCHEMA_KEYS, loc)?;
        if let Some(r) = map.get("$ref") {
            let r = r.as_str().ok_or_else(|| anyhow!("{loc}.$ref: expected a string"))?;
            let target = r
                .strip_prefix("#/components/schemas/")
                .ok_or_else(|| anyhow!("{loc}.$ref: only #/components/schemas/ references are supported, got {r:?}"))?;
            for key in map.keys() {
                if !["$ref", "description", "example", "examples", "title", "deprecated"].contains(&key.as_str()) {
                    bail!("{loc}: key {key:?} beside $ref is not supported");
                }
            }
            if !self.components.contains_key(target) {
                bail!("{loc}.$ref: unknown schema {target:?}");
            }
            return Ok((Type::Named(target.to_owned()), false));
        }
        if map.contains_key("anyOf") {
            bail!("{loc}: anyOf is not supported (use oneOf)");
        }
        if let Some(all) = map.get("allOf") {
            return self.all_of(map, all, ctx, loc);
        }
        if let Some(one) = map.get("oneOf") {
            return self.one_of(map, one, ctx, loc);
        }
        let (base, nullable) = match map.get("type") {
            None => {
                if map.contains_key("properties") {
                    ("object".to_owned(), false)
                } else if map.contains_key("enum") || map.contains_key("const") {
                    ("string".to_owned(), false)
                } else {
                    return Ok((Type::Any, false));
                }
            }
            Some(Value::String(t)) => (t.clone(), false),
            Some(Value::Array(ts)) => {
                let names: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
                let non_null: Vec<&str> = names.iter().copied().filter(|t| *t != "null").collect();
                if names.len() != ts.len() || non_null.len() != 1 {
                    bail!("{loc}.type: only [T] or [T, \"null\"] is supported, got {ts:?}");
                }
                (non_null[0].to_owned(), names.len() == 2)
            }
            Some(other) => bail!("{loc}.type: unsupported value {other}"),
        };
        if map.contains_key("enum") || map.contains_key("const") {
            return self.enumeration(map, &base, nullable, ctx, loc);
        }
        let format = string_at(map, "format");
        let ty = match base.as_str() {
            "string" => match format.as_deref() {
                Some("decimal") => Type::Decimal,
                Some("date-time") => Type::DateTime,
                Some("binary") | Some("byte") => bail!("{loc}: string format {format:?} is not supported"),
                _ => Type::String,
            },
            "integer" => Type::Integer,
            "number" => Type::Number,
            "boolean" => Type::Boolean,
            "array" => {
                let items = map.get("items").ok_or_else(|| anyhow!("{loc}: an array without items"))?;
                let (inner, inner_null) = self.schema(items, &format!("{ctx}Item"), &format!("{loc}.items"))?;
                if inner_null {
                    bail!("{loc}.items: nullable array items are not supported");
                }
                Type::Array(Box::new(inner))
            }
            "object" => {
                if map.contains_key("properties") {
                    self.object(map, ctx, loc)?;
                    Type::Named(ctx.to_owned())
                } else {
                    match map.get("additionalProperties") {
                        None | Some(Value::Bool(true)) => Type::Map(Box::new(Type::Any)),
                        Some(Value::Bool(false)) => {
                            self.object(map, ctx, loc)?;
                            Type::Named(ctx.to_owned())
                        }
                        Some(ap) => {
                            let (inner, inner_null) =
                                self.schema(ap, &format!("{ctx}Value"), &format!("{loc}.additionalProperties"))?;
                            if inner_null {
                                bail!("{loc}.additionalProperties: nullable map values are not supported");
                            }
                            Type::Map(Box::new(inner))
                        }
                    }
                }
            }
            "null" => bail!("{loc}: a schema that is only null is not supported"),
            other => bail!("{loc}.type: unsupported type {other:?}"),
        };
        Ok((ty, nullable))
    }

    fn enumeration(
        &mut self,
        map: &Map<String, Value>,
        base: &str,
        mut nullable: bool,
        ctx: &str,
        loc: &str,
    ) -> Result<(Type, bool)> {
        if base != "string" {
            bail!("{loc}: only string enums are supported, got type {base:?}");
        }
        let raw: Vec<Value> = match (map.get("enum"), map.get("const")) {
            (Some(Value::Array(values)), None) => values.clone(),
            (None, Some(c)) => vec![c.clone()],
            _ => bail!("{loc}: enum must be an array (and not beside const)"),
        };
        let mut values = Vec::new();
        for v in raw {
            match v {
                Value::String(s) => {
                    if !values.contains(&s) {
                        values.push(s)
                    }
                }
                Value::Null => nullable = true,
                other => bail!("{loc}.enum: only string values are supported, got {other}"),
            }
        }
        if values.is_empty() {
            bail!("{loc}.enum: no values");
        }
        for v in &values {
            naming::check_enum_value(v).with_context(|| format!("{loc}.enum"))?;
        }
        let description = string_at(map, "description");
        self.define(NamedType { name: ctx.to_owned(), description, kind: TypeKind::Enum(values) }, loc)?;
        Ok((Type::Named(ctx.to_owned()), nullable))
    }

    fn define(&mut self, t: NamedType, loc: &str) -> Result<()> {
        if self.types.contains_key(&t.name) {
            bail!("{loc}: the type name {:?} is produced twice (name the inline schema as a component)", t.name);
        }
        if t.name != loc.trim_start_matches("components.schemas.") && self.components.contains_key(&t.name) {
            bail!("{loc}: an inline schema would be named {:?}, which is also a component schema", t.name);
        }
        naming::check_type_name(&t.name).with_context(|| loc.to_owned())?;
        self.types.insert(t.name.clone(), t);
        Ok(())
    }

    fn object(&mut self, map: &Map<String, Value>, ctx: &str, loc: &str) -> Result<()> {
        let fields = self.object_fields(map, ctx, loc)?;
        let description = string_at(map, "description");
        self.define(NamedType { name: ctx.to_owned(), description, kind: TypeKind::Object(fields) }, loc)
    }

    fn object_fields(&mut self, map: &Map<String, Value>, ctx: &str, loc: &str) -> Result<Vec<Field>> {
        if let Some(ap) = map.get("additionalProperties") {
            if !ap.is_boolean() {
                bail!("{loc}: an object with both properties and additionalProperties schema is not supported");
            }
        }
        let required: BTreeSet<String> = match map.get("required") {
            None => BTreeSet::new(),
            Some(Value::Array(r)) => r.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            Some(_) => bail!("{loc}.required: expected an array"),
        };
        let empty = Map::new();
        let props = match map.get("properties") {
            Some(p) => obj(p, &format!("{loc}.properties"))?,
            None => &empty,
        };
        for r in &required {
            if !props.contains_key(r) {
                bail!("{loc}.required: {r:?} is not a property");
            }
        }
        let mut fields = Vec::new();
        for (name, prop) in props {
            naming::check_wire_name(name).with_context(|| format!("{loc}.properties"))?;
            let ploc = format!("{loc}.properties.{name}");
            let (ty, nullable) = self.schema(prop, &format!("{ctx}{}", naming::pascal(name)), &ploc)?;
            let description = prop.get("description").and_then(Value::as_str).map(str::to_owned);
            fields.push(Field { name: name.clone(), ty, required: required.contains(name), nullable, description });
        }
        Ok(fields)
    }

    /// `allOf`: merged into one object (a lone `$ref` is that type).
    fn all_of(&mut self, map: &Map<String, Value>, all: &Value, ctx: &str, loc: &str) -> Result<(Type, bool)> {
        let parts = all.as_array().ok_or_else(|| anyhow!("{loc}.allOf: expected an array"))?;
        for key in map.keys() {
            if !["allOf", "description", "title", "example", "examples", "deprecated"].contains(&key.as_str()) {
                bail!("{loc}: key {key:?} beside allOf is not supported");
            }
        }
        if parts.len() == 1 && parts[0].get("$ref").is_some() {
            return self.schema(&parts[0], ctx, &format!("{loc}.allOf[0]"));
        }
        let mut fields: Vec<Field> = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let ploc = format!("{loc}.allOf[{i}]");
            let part_fields = if let Some(r) = part.get("$ref").and_then(Value::as_str) {
                self.schema(part, ctx, &ploc)?;
                let target = r.trim_start_matches("#/components/schemas/");
                self.component(target)?;
                match self.types.get(target).map(|t| &t.kind) {
                    Some(TypeKind::Object(f)) if !self.aliases.contains_key(target) => f.clone(),
                    _ => bail!("{ploc}: allOf may only combine objects; {target:?} is not one"),
                }
            } else {
                let pmap = obj(part, &ploc)?;
                check_keys(pmap, SCHEMA_KEYS, &ploc)?;
                if pmap.get("type").and_then(Value::as_str).unwrap_or("object") != "object" {
                    bail!("{ploc}: allOf may only combine objects");
                }
                self.object_fields(pmap, ctx, &ploc)?
            };
            for f in part_fields {
                if fields.iter().any(|g| g.name == f.name) {
                    bail!("{ploc}: property {:?} is defined twice in allOf", f.name);
                }
                fields.push(f);
            }
        }
        fields.sort_by(|a, b| a.name.cmp(&b.name));
        let description = string_at(map, "description");
        self.define(NamedType { name: ctx.to_owned(), description, kind: TypeKind::Object(fields) }, loc)?;
        Ok((Type::Named(ctx.to_owned()), false))
    }

    /// `oneOf`: `[T, {type: null}]` is a nullable `T`; otherwise a union of objects.
    fn one_of(&mut self, map: &Map<String, Value>, one: &Value, ctx: &str, loc: &str) -> Result<(Type, bool)> {
        let variants = one.as_array().ok_or_else(|| anyhow!("{loc}.oneOf: expected an array"))?;
        for key in map.keys() {
            if !["oneOf", "description", "title", "example", "examples", "discriminator", "deprecated"]
                .contains(&key.as_str())
            {
                bail!("{loc}: key {key:?} beside oneOf is not supported");
            }
        }
        let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
        let non_null: Vec<&Value> = variants.iter().filter(|v| !is_null(v)).collect();
        let nullable = non_null.len() != variants.len();
        if non_null.len() == 1 {
            let (ty, inner_null) = self.schema(non_null[0], ctx, &format!("{loc}.oneOf[0]"))?;
            return Ok((ty, nullable || inner_null));
        }
        if non_null.is_empty() {
            bail!("{loc}.oneOf: no non-null variant");
        }
        let discriminator = match map.get("discriminator") {
            Some(d) => Some(
                d.get("propertyName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("{loc}.discriminator: propertyName missing"))?
                    .to_owned(),
            ),
            None => common_tag_property(&non_null, self.components),
        };
        let mut names = Vec::new();
        for (i, v) in non_null.iter().enumerate() {
            let vloc = format!("{loc}.oneOf[{i}]");
            let name = match v.get("$ref").and_then(Value::as_str) {
                Some(r) => r.trim_start_matches("#/components/schemas/").to_owned(),
                None => {
                    let tag_value = discriminator.as_deref().and_then(|d| single_enum_value(v, d));
                    let base = match tag_value {
                        Some(t) => format!("{ctx}{}", naming::pascal(&t)),
                        None => format!("{ctx}Variant{}", i + 1),
                    };
                    if names.contains(&base) {
                        format!("{base}{}", i + 1)
                    } else {
                        base
                    }
                }
            };
            let (ty, inner_null) = self.schema(v, &name, &vloc)?;
            if inner_null {
                bail!("{vloc}: a nullable union variant is not supported");
            }
            let Type::Named(n) = ty else { bail!("{vloc}: union variants must be objects") };
            names.push(n);
        }
        for n in &names {
            self.component_if_ref(n)?;
            let is_object = matches!(self.types.get(n).map(|t| &t.kind), Some(TypeKind::Object(_)));
            if !is_object || self.aliases.contains_key(n) {
                bail!("{loc}.oneOf: variant {n:?} is not an object; only unions of objects are supported");
            }
        }
        let description = string_at(map, "description");
        self.define(
            NamedType { name: ctx.to_owned(), description, kind: TypeKind::Union { variants: names, discriminator } },
            loc,
        )?;
        Ok((Type::Named(ctx.to_owned()), nullable))
    }

    fn component_if_ref(&mut self, name: &str) -> Result<()> {
        if self.components.contains_key(name) {
            self.component(name)?;
        }
        Ok(())
    }

    fn operation(&mut self, path: &str, method: &str, op: &Value, loc: &str) -> Result<(String, Operation)> {
        let op = obj(op, loc)?;
        check_keys(op, OPERATION_KEYS, loc)?;
        let operation_id = string_at(op, "operationId").ok_or_else(|| anyhow!("{loc}: operationId missing"))?;
        let tags: Vec<String> = op
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let [tag] = tags.as_slice() else {
            bail!("{loc}: an operation needs exactly one tag (its SDK resource), found {tags:?}");
        };
        naming::check_wire_name(tag).with_context(|| format!("{loc}.tags"))?;
        let ctx_prefix = format!("{}{}", naming::pascal(tag), naming::pascal(&operation_id));

        let mut path_params = Vec::new();
        let mut query_params = Vec::new();
        let mut header_params = Vec::new();
        let mut idempotent_key = false;
        if let Some(params) = op.get("parameters") {
            let params = params.as_array().ok_or_else(|| anyhow!("{loc}.parameters: expected an array"))?;
            for (i, p) in params.iter().enumerate() {
                let ploc = format!("{loc}.parameters[{i}]");
                let p = obj(p, &ploc)?;
                check_keys(p, &["name", "in", "description", "required", "schema", "deprecated", "example"], &ploc)?;
                let name = string_at(p, "name").ok_or_else(|| anyhow!("{ploc}: name missing"))?;
                let location = string_at(p, "in").unwrap_or_default();
                let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
                let description = string_at(p, "description");
                let schema = p.get("schema").ok_or_else(|| anyhow!("{ploc}: schema missing"))?;
                if location == "header" {
                    if name.eq_ignore_ascii_case("Idempotency-Key") {
                        idempotent_key = true;
                        continue;
                    }
                    let (ty, _) = self.schema(schema, "Unused", &ploc)?;
                    if ty != Type::String || naming::words(&name).is_empty() {
                        bail!("{ploc}: header parameter {name:?} must be a string");
                    }
                    header_params.push(Param { name: name.clone(), ty, required, description });
                    continue;
                }
                naming::check_wire_name(&name).with_context(|| ploc.clone())?;
                let (ty, _) = self.schema(schema, &format!("{ctx_prefix}{}", naming::pascal(&name)), &ploc)?;
                let is_enum = |n: &str| matches!(self.types.get(n).map(|t| &t.kind), Some(TypeKind::Enum(_)));
                match &ty {
                    Type::Array(_) | Type::Map(_) | Type::Any => {
                        bail!("{ploc}: parameter {name:?} has a type sdk-gen cannot put in a URL")
                    }
                    Type::Named(n) if !is_enum(n) && !self.components.contains_key(n) => {
                        bail!("{ploc}: parameter {name:?} must be a primitive or an enum");
                    }
                    _ => {}
                }
                let param = Param { name: name.clone(), ty, required, description };
                match location.as_str() {
                    "path" => path_params.push(param),
                    "query" => query_params.push(param),
                    other => bail!("{ploc}: parameters in {other:?} are not supported"),
                }
            }
        }
        // Path parameters in the order they appear in the path.
        let mut ordered = Vec::new();
        for segment in path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let idx = path_params
                    .iter()
                    .position(|p: &Param| p.name == name)
                    .ok_or_else(|| anyhow!("{loc}: path parameter {{{name}}} is not declared"))?;
                ordered.push(path_params.remove(idx));
            } else if segment.contains('{') {
                bail!("{loc}: path segment {segment:?} mixes text and a parameter");
            }
        }
        if let Some(p) = path_params.first() {
            bail!("{loc}: path parameter {:?} does not occur in the path", p.name);
        }

        let body = match op.get("requestBody") {
            None => None,
            Some(rb) => Some(self.request_body(rb, &format!("{ctx_prefix}Request"), &format!("{loc}.requestBody"))?),
        };
        if let Some(b) = &body {
            for f in self.fields_of_now(&b.type_name) {
                if query_params.iter().any(|q| q.name == f) || ordered.iter().any(|q| q.name == f) {
                    bail!("{loc}: body property {f:?} has the name of a parameter");
                }
            }
        }
        let response = self.response(op, &format!("{ctx_prefix}Response"), loc)?;
        let pagination = self.pagination(&response, &query_params);
        let auth = match op.get("security") {
            None => false,
            Some(Value::Array(reqs)) => reqs.iter().any(|r| r.as_object().is_some_and(|m| !m.is_empty())),
            Some(_) => bail!("{loc}.security: expected an array"),
        };
        let name = naming::method_name(&operation_id, tag, method, pagination.is_some());
        Ok((
            tag.clone(),
            Operation {
                name,
                operation_id,
                http_method: method.to_ascii_uppercase(),
                path: path.to_owned(),
                summary: string_at(op, "summary"),
                description: string_at(op, "description"),
                path_params: ordered,
                query_params,
                header_params,
                idempotent_key,
                body,
                response,
                pagination,
                auth,
            },
        ))
    }

    fn fields_of_now(&self, name: &str) -> Vec<String> {
        match self.types.get(name).map(|t| &t.kind) {
            Some(TypeKind::Object(f)) => f.iter().map(|f| f.name.clone()).collect(),
            _ => Vec::new(),
        }
    }

    fn request_body(&mut self, rb: &Value, ctx: &str, loc: &str) -> Result<Body> {
        let rb = obj(rb, loc)?;
        check_keys(rb, &["content", "required", "description"], loc)?;
        let content = obj(rb.get("content").ok_or_else(|| anyhow!("{loc}: content missing"))?, loc)?;
        let (media, media_obj) = match content.iter().collect::<Vec<_>>().as_slice() {
            [(m, o)] => (m.as_str(), *o),
            _ => bail!("{loc}.content: exactly one media type is supported"),
        };
        if media != "application/json" {
            bail!("{loc}.content: request bodies of type {media:?} are not supported");
        }
        let schema = media_obj.get("schema").ok_or_else(|| anyhow!("{loc}: schema missing"))?;
        let (ty, nullable) = self.schema(schema, ctx, &format!("{loc}.content.{media}.schema"))?;
        let Type::Named(type_name) = ty else { bail!("{loc}: the request body must be an object") };
        self.component_if_ref(&type_name)?;
        if nullable || !matches!(self.types.get(&type_name).map(|t| &t.kind), Some(TypeKind::Object(_))) {
            bail!("{loc}: the request body must be an object schema");
        }
        let required = rb.get("required").and_then(Value::as_bool).unwrap_or(false);
        Ok(Body { type_name, required })
    }

    fn response(&mut self, op: &Map<String, Value>, ctx: &str, loc: &str) -> Result<Response> {
        let responses = obj(op.get("responses").ok_or_else(|| anyhow!("{loc}: responses missing"))?, loc)?;
        let success: Vec<(&String, &Value)> = responses.iter().filter(|(code, _)| code.starts_with('2')).collect();
        if success.is_empty() {
            bail!("{loc}.responses: no 2xx response");
        }
        // Several 2xx answers (201 done, 202 queued) are one result type to a client.
        let mut answers = Vec::with_capacity(success.len());
        for (code, resp) in success {
            answers.push(self.success_response(code, resp, ctx, loc)?);
        }
        let first = answers.remove(0);
        if answers.iter().any(|other| *other != first) {
            bail!("{loc}.responses: 2xx responses of different types are not supported");
        }
        Ok(first)
    }

    fn success_response(&mut self, code: &str, resp: &Value, ctx: &str, loc: &str) -> Result<Response> {
        let rloc = format!("{loc}.responses.{code}");
        let resp = obj(resp, &rloc)?;
        check_keys(resp, &["description", "content", "headers"], &rloc)?;
        let Some(content) = resp.get("content") else { return Ok(Response::Empty) };
        let content = obj(content, &rloc)?;
        let media: Vec<(&String, &Value)> = content.iter().collect();
        let [(media, media_obj)] = media.as_slice() else {
            bail!("{rloc}.content: exactly one media type per success response is supported");
        };
        let media = media.as_str();
        if media == "application/json" {
            let schema = media_obj.get("schema").ok_or_else(|| anyhow!("{rloc}: schema missing"))?;
            let (ty, nullable) = self.schema(schema, ctx, &format!("{rloc}.content.{media}.schema"))?;
            if nullable {
                bail!("{rloc}: a nullable response body is not supported");
            }
            Ok(Response::Json(ty))
        } else if media.starts_with("text/") || matches!(media, "application/yaml" | "application/openmetrics-text") {
            Ok(Response::Text)
        } else if media.starts_with("image/") || media == "application/octet-stream" || media == "application/pdf" {
            Ok(Response::Binary(media.to_owned()))
        } else {
            bail!("{rloc}.content: responses of type {media:?} are not supported")
        }
    }

    fn pagination(&mut self, response: &Response, query: &[Param]) -> Option<Pagination> {
        let Response::Json(Type::Named(name)) = response else { return None };
        if !query.iter().any(|q| q.name == "cursor") {
            return None;
        }
        let fields = match self.types.get(name).map(|t| &t.kind) {
            Some(TypeKind::Object(f)) => f,
            _ => return None,
        };
        let has = |n: &str| fields.iter().find(|f| f.name == n);
        let data = has("data")?;
        has("has_more").filter(|f| f.ty == Type::Boolean)?;
        has("next_cursor")?;
        match &data.ty {
            Type::Array(item) => Some(Pagination { item: (**item).clone() }),
            _ => None,
        }
    }
}

/// In a union without an explicit discriminator: the property every variant requires with one
/// enum value (`type: {enum: [card]}`), if there is one.
fn common_tag_property(variants: &[&Value], components: &Map<String, Value>) -> Option<String> {
    let resolve = |v: &Value| -> Option<Value> {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => components.get(r.trim_start_matches("#/components/schemas/")).cloned(),
            None => Some(v.clone()),
        }
    };
    let first = resolve(variants[0])?;
    let candidates: Vec<String> = first.get("properties")?.as_object()?.keys().cloned().collect();
    candidates.into_iter().find(|c| {
        variants.iter().all(|v| {
            let Some(v) = resolve(v) else { return false };
            single_enum_value(&v, c).is_some()
                && v.get("required").and_then(Value::as_array).is_some_and(|r| r.iter().any(|x| x == c))
        })
    })
}

fn single_enum_value(schema: &Value, prop: &str) -> Option<String> {
    let p = schema.get("properties")?.get(prop)?;
    if let Some(c) = p.get("const").and_then(Value::as_str) {
        return Some(c.to_owned());
    }
    match p.get("enum")?.as_array()?.as_slice() {
        [Value::String(s)] => Some(s.clone()),
        _ => None,
    }
}

fn resolve_alias(ty: &Type, aliases: &BTreeMap<String, (Type, bool)>) -> (Type, bool) {
    match ty {
        Type::Named(n) => match aliases.get(n) {
            Some((t, nullable)) => {
                let (t, inner) = resolve_alias(t, aliases);
                (t, inner || *nullable)
            }
            None => (ty.clone(), false),
        },
        Type::Array(inner) => (Type::Array(Box::new(resolve_alias(inner, aliases).0)), false),
        Type::Map(inner) => (Type::Map(Box::new(resolve_alias(inner, aliases).0)), false),
        other => (other.clone(), false),
    }
}
