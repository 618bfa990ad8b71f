//! The Rust SDK (`sdks/rust`): async, reqwest with rustls, serde models.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use serde::Serialize;

use crate::naming::{pascal, rust_ident, rust_variant, snake};
use crate::render::{self, doc_lines, Template};
use crate::spec::{Api, Operation, Response, Type, TypeKind};
use crate::{GeneratedFile, REGENERATE_COMMAND};

const TEMPLATES: &[Template] = &[
    ("Cargo.toml", include_str!("../templates/rust/Cargo.toml.j2")),
    ("README.md", include_str!("../templates/rust/README.md.j2")),
    ("lib.rs", include_str!("../templates/rust/lib.rs.j2")),
    ("client.rs", include_str!("../templates/rust/client.rs.j2")),
    ("error.rs", include_str!("../templates/rust/error.rs.j2")),
    ("types.rs", include_str!("../templates/rust/types.rs.j2")),
    ("resources.rs", include_str!("../templates/rust/resources.rs.j2")),
    ("webhooks.rs", include_str!("../templates/rust/webhooks.rs.j2")),
];

/// Names the crate root exports besides the generated ones.
const RUNTIME_NAMES: &[&str] = &[
    "Client",
    "ClientBuilder",
    "Page",
    "Paginator",
    "RequestOptions",
    "ApiError",
    "Error",
    "Decimal",
    "DateTime",
    "Utc",
    "VERSION",
    "DEFAULT_BASE_URL",
];
/// Methods of `Client` and of every resource, which no generated method may take.
const RESERVED_METHODS: &[&str] =
    &["new", "from_env", "builder", "base_url", "user_agent", "execute", "with_options", "new_call"];

#[derive(Serialize)]
struct Ctx {
    header: String,
    regenerate: &'static str,
    version: String,
    title: String,
    default_base_url: String,
    types: Vec<TypeView>,
    resources: Vec<ResourceView>,
}

#[derive(Serialize)]
struct TypeView {
    name: String,
    doc: Vec<String>,
    kind: &'static str,
    derive_default: bool,
    fields: Vec<FieldView>,
    variants: Vec<VariantView>,
}

#[derive(Serialize)]
struct FieldView {
    ident: String,
    ty: String,
    attrs: Vec<String>,
    doc: Vec<String>,
}

#[derive(Serialize)]
struct VariantView {
    ident: String,
    value: String,
}

#[derive(Serialize)]
struct ResourceView {
    accessor: String,
    class: String,
    doc: Vec<String>,
    methods: Vec<MethodView>,
}

#[derive(Serialize)]
struct ParamView {
    ident: String,
    wire: String,
    ty: String,
    required: bool,
    doc: Vec<String>,
}

#[derive(Serialize)]
struct MethodView {
    name: String,
    doc: Vec<String>,
    http_method: String,
    path: String,
    raw_path: String,
    args: Vec<String>,
    arg_names: Vec<String>,
    params_type: Option<String>,
    params_default: bool,
    params: Vec<ParamView>,
    query: Vec<ParamView>,
    headers: Vec<ParamView>,
    has_body: bool,
    auth: bool,
    idempotent: bool,
    paginated: bool,
    item: String,
    returns: String,
    execute: String,
}

fn docs(text: Option<&str>) -> Vec<String> {
    doc_lines(text)
}

/// The docs of a parameter, never empty (the crate denies undocumented public items).
fn param_docs(name: &str, text: Option<&str>) -> Vec<String> {
    let d = docs(text);
    if d.is_empty() {
        vec![format!("`{name}`.")]
    } else {
        d
    }
}

/// The Rust type of a value.
fn rust_type(ty: &Type) -> String {
    match ty {
        Type::String => "String".into(),
        Type::Decimal => "Decimal".into(),
        Type::DateTime => "DateTime<Utc>".into(),
        Type::Integer => "i64".into(),
        Type::Number => "f64".into(),
        Type::Boolean => "bool".into(),
        Type::Any => "serde_json::Value".into(),
        Type::Array(inner) => format!("Vec<{}>", rust_type(inner)),
        Type::Map(inner) => format!("BTreeMap<String, {}>", rust_type(inner)),
        Type::Named(n) => n.clone(),
    }
}

/// Whether `ty` implements `Default` (objects do when all their fields do; enums and unions never).
fn defaultable(api: &Api, ty: &Type, memo: &mut BTreeMap<String, bool>) -> bool {
    match ty {
        Type::Named(n) => {
            if let Some(v) = memo.get(n) {
                return *v;
            }
            memo.insert(n.clone(), false); // a cycle is not defaultable
            let v = match api.type_named(n).map(|t| &t.kind) {
                Some(TypeKind::Object(fields)) => {
                    fields.iter().all(|f| f.nullable || !f.required || defaultable(api, &f.ty, memo))
                }
                _ => false,
            };
            memo.insert(n.clone(), v);
            v
        }
        _ => true,
    }
}

pub fn generate(api: &Api) -> Result<Vec<GeneratedFile>> {
    let env = render::environment(TEMPLATES)?;
    let ctx = context(api)?;
    let files = [
        ("Cargo.toml", "rust/Cargo.toml"),
        ("README.md", "rust/README.md"),
        ("lib.rs", "rust/src/lib.rs"),
        ("client.rs", "rust/src/client.rs"),
        ("error.rs", "rust/src/error.rs"),
        ("types.rs", "rust/src/types.rs"),
        ("resources.rs", "rust/src/resources.rs"),
        ("webhooks.rs", "rust/src/webhooks.rs"),
    ];
    let mut out =
        files.iter().map(|(template, path)| render::render(&env, template, path, &ctx)).collect::<Result<Vec<_>>>()?;
    out.push(GeneratedFile { path: "rust/.gitignore".into(), contents: "target/\nCargo.lock\n".into() });
    Ok(out)
}

fn context(api: &Api) -> Result<Ctx> {
    let mut exported: BTreeSet<String> = RUNTIME_NAMES.iter().map(|s| s.to_string()).collect();
    let mut memo = BTreeMap::new();
    let mut types = Vec::new();
    for t in &api.types {
        if !exported.insert(t.name.clone()) {
            bail!("schema {:?}: the Rust SDK already exports that name", t.name);
        }
        let mut doc = docs(t.description.as_deref());
        if doc.is_empty() {
            doc.push(format!("The `{}` schema.", t.name));
        }
        let view = match &t.kind {
            TypeKind::Object(fields) => {
                let mut views = Vec::new();
                let mut idents = BTreeSet::new();
                for f in fields {
                    let ident = rust_ident(&snake(&f.name));
                    if !idents.insert(ident.clone()) {
                        bail!("{}: two properties map to the Rust field {ident:?}", t.name);
                    }
                    let mut attrs = Vec::new();
                    if ident.trim_start_matches("r#") != f.name {
                        attrs.push(format!("#[serde(rename = {})]", serde_json::to_string(&f.name)?));
                    }
                    let base = rust_type(&f.ty);
                    let ty = if f.required && !f.nullable {
                        base
                    } else {
                        if !f.required {
                            attrs.push("#[serde(default, skip_serializing_if = \"Option::is_none\")]".into());
                        }
                        format!("Option<{base}>")
                    };
                    let mut doc = docs(f.description.as_deref());
                    if doc.is_empty() {
                        doc.push(format!("`{}`.", f.name));
                    }
                    if f.nullable && f.required {
                        doc.push("Always present; may be null.".into());
                    }
                    views.push(FieldView { ident, ty, attrs, doc });
                }
                TypeView {
                    name: t.name.clone(),
                    doc,
                    kind: "object",
                    derive_default: defaultable(api, &Type::Named(t.name.clone()), &mut memo),
                    fields: views,
                    variants: Vec::new(),
                }
            }
            TypeKind::Enum(values) => {
                let mut idents = BTreeSet::new();
                let mut variants = Vec::new();
                for v in values {
                    let ident = rust_variant(v);
                    if ident == "Unknown" || !idents.insert(ident.clone()) {
                        bail!("{}: enum value {v:?} gives the Rust variant {ident:?} twice (or Unknown)", t.name);
                    }
                    variants.push(VariantView { ident, value: v.clone() });
                }
                TypeView {
                    name: t.name.clone(),
                    doc,
                    kind: "enum",
                    derive_default: false,
                    fields: Vec::new(),
                    variants,
                }
            }
            TypeKind::Union { variants, .. } => {
                let mut views = Vec::new();
                for v in variants {
                    let short = v.strip_prefix(&t.name).filter(|s| s.starts_with(|c: char| c.is_ascii_uppercase()));
                    views.push(VariantView { ident: short.unwrap_or(v).to_owned(), value: v.clone() });
                }
                TypeView {
                    name: t.name.clone(),
                    doc,
                    kind: "union",
                    derive_default: false,
                    fields: Vec::new(),
                    variants: views,
                }
            }
        };
        types.push(view);
    }
    let mut resources = Vec::new();
    let mut accessors = BTreeSet::new();
    for r in &api.resources {
        let accessor = rust_ident(&snake(&r.tag));
        // `Resource` keeps the class apart from a schema named after the tag (`Balance`).
        let class = format!("{}Resource", pascal(&r.tag));
        if RESERVED_METHODS.contains(&accessor.as_str()) || !accessors.insert(accessor.clone()) {
            bail!("tag {:?}: the Rust client already has a method {accessor:?}", r.tag);
        }
        if !exported.insert(class.clone()) {
            bail!("tag {:?}: the Rust SDK already exports the name {class:?}", r.tag);
        }
        let mut methods = Vec::new();
        for op in &r.operations {
            let m =
                method(api, &class, op, &mut memo).map_err(|e| e.context(format!("operation {}", op.operation_id)))?;
            if let Some(p) = &m.params_type {
                if !exported.insert(p.clone()) {
                    bail!("operation {}: the Rust SDK already exports the name {p:?}", op.operation_id);
                }
            }
            methods.push(m);
        }
        resources.push(ResourceView { accessor, class, doc: docs(r.description.as_deref().or(Some(&r.tag))), methods });
    }
    Ok(Ctx {
        header: format!(
            "Generated by apinfer-sdk-gen from openapi.yaml; do not edit. Regenerate: {REGENERATE_COMMAND}"
        ),
        regenerate: REGENERATE_COMMAND,
        version: api.version.clone(),
        title: api.title.clone(),
        default_base_url: "http://localhost:8080".into(),
        types,
        resources,
    })
}

fn method(api: &Api, class: &str, op: &Operation, memo: &mut BTreeMap<String, bool>) -> Result<MethodView> {
    let name = rust_ident(&op.name);
    if RESERVED_METHODS.contains(&name.as_str()) {
        bail!("the method name {name:?} is reserved in the Rust SDK");
    }
    let mut args = Vec::new();
    let mut arg_names = Vec::new();
    let mut path = op.path.clone();
    let mut format_args = Vec::new();
    for p in &op.path_params {
        let ident = rust_ident(&snake(&p.name));
        path = path.replace(&format!("{{{}}}", p.name), "{}");
        format_args.push(format!("path_param({ident})"));
        let ty = match &p.ty {
            Type::String => "&str".to_owned(),
            Type::Integer => "i64".to_owned(),
            Type::Named(n) => format!("&{n}"),
            other => bail!("path parameter {:?} of type {other:?} is not supported", p.name),
        };
        args.push(format!("{ident}: {ty}"));
        arg_names.push(ident);
    }
    let path = if format_args.is_empty() {
        format!("{}.to_owned()", serde_json::to_string(&path)?)
    } else {
        format!("format!({}, {})", serde_json::to_string(&path)?, format_args.join(", "))
    };
    if let Some(b) = &op.body {
        args.push(format!("body: &{}", b.type_name));
        arg_names.push("body".into());
    }
    let mut params = Vec::new();
    let mut query = Vec::new();
    let mut headers = Vec::new();
    let mut params_default = true;
    for p in &op.query_params {
        let ident = rust_ident(&snake(&p.name));
        let base = rust_type(&p.ty);
        if p.required && !defaultable(api, &p.ty, memo) {
            params_default = false;
        }
        let ty = if p.required { base } else { format!("Option<{base}>") };
        let v = ParamView {
            ident,
            wire: p.name.clone(),
            ty,
            required: p.required,
            doc: param_docs(&p.name, p.description.as_deref()),
        };
        query.push(ParamView { doc: Vec::new(), ty: String::new(), ..clone_param(&v) });
        params.push(v);
    }
    for p in &op.header_params {
        let v = if p.is_prefer() {
            ParamView {
                ident: "wait".into(),
                wire: p.name.clone(),
                ty: "Option<bool>".into(),
                required: false,
                doc: param_docs("wait", Some(crate::spec::WAIT_DOC)),
            }
        } else {
            let ty = if p.required { "String".to_owned() } else { "Option<String>".to_owned() };
            ParamView {
                ident: rust_ident(&snake(&p.name)),
                wire: p.name.clone(),
                ty,
                required: p.required,
                doc: param_docs(&p.name, p.description.as_deref()),
            }
        };
        headers.push(ParamView { doc: Vec::new(), ty: String::new(), ..clone_param(&v) });
        params.push(v);
    }
    let mut seen = BTreeSet::new();
    for p in &params {
        if !seen.insert(p.ident.clone()) {
            bail!("two parameters map to the Rust field {:?}", p.ident);
        }
    }
    let params_type = if params.is_empty() {
        None
    } else {
        Some(format!("{}{}Params", class.trim_end_matches("Resource"), pascal(&op.name)))
    };
    if let Some(t) = &params_type {
        args.push(format!("params: &{t}"));
        arg_names.push("params".into());
    }
    let (execute, result) = match &op.response {
        Response::Empty => ("execute_empty", "()".to_owned()),
        Response::Text => ("execute_text", "String".to_owned()),
        Response::Binary(_) => ("execute_bytes", "Vec<u8>".to_owned()),
        Response::Json(ty) => ("execute_json", rust_type(ty)),
    };
    let (item, returns) = match &op.pagination {
        Some(p) => {
            let item = rust_type(&p.item);
            (item.clone(), format!("Paginator<{item}>"))
        }
        None => (String::new(), format!("Result<{result}, Error>")),
    };
    let mut doc = docs(op.summary.as_deref());
    doc.extend(docs(op.description.as_deref()));
    if op.pagination.is_some() {
        doc.push(String::new());
        doc.push(format!("Walks every item of every page; [`Self::{}_page`] fetches one page.", op.name));
    }
    if let Response::Binary(ct) = &op.response {
        doc.push(String::new());
        doc.push(format!("Returns the raw bytes ({ct})."));
    }
    if op.idempotent_key {
        doc.push(String::new());
        doc.push(
            "Sends an `Idempotency-Key` (generated unless set with [`Self::with_options`]), reused by retries.".into(),
        );
    }
    Ok(MethodView {
        name,
        doc,
        http_method: op.http_method.clone(),
        path,
        raw_path: op.path.clone(),
        args,
        arg_names,
        params_type,
        params_default,
        params,
        query,
        headers,
        has_body: op.body.is_some(),
        auth: op.auth,
        idempotent: op.idempotent_key,
        paginated: op.pagination.is_some(),
        item,
        returns,
        execute: execute.into(),
    })
}

fn clone_param(p: &ParamView) -> ParamView {
    ParamView {
        ident: p.ident.clone(),
        wire: p.wire.clone(),
        ty: p.ty.clone(),
        required: p.required,
        doc: p.doc.clone(),
    }
}
