//! The TypeScript SDK (`sdks/typescript`): ESM, zero runtime dependencies, global `fetch`.

use std::collections::BTreeSet;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::naming::{camel, pascal, snake, ts_ident};
use crate::render::{self, doc_lines, Template};
use crate::spec::{Api, Operation, Response, Type, TypeKind};
use crate::{GeneratedFile, REGENERATE_COMMAND};

const TEMPLATES: &[Template] = &[
    ("package.json", include_str!("../templates/typescript/package.json.j2")),
    ("tsconfig.json", include_str!("../templates/typescript/tsconfig.json.j2")),
    ("tsconfig.cjs.json", include_str!("../templates/typescript/tsconfig.cjs.json.j2")),
    ("README.md", include_str!("../templates/typescript/README.md.j2")),
    ("index.ts", include_str!("../templates/typescript/index.ts.j2")),
    ("version.ts", include_str!("../templates/typescript/version.ts.j2")),
    ("errors.ts", include_str!("../templates/typescript/errors.ts.j2")),
    ("core.ts", include_str!("../templates/typescript/core.ts.j2")),
    ("types.ts", include_str!("../templates/typescript/types.ts.j2")),
    ("resources.ts", include_str!("../templates/typescript/resources.ts.j2")),
    ("webhooks.ts", include_str!("../templates/typescript/webhooks.ts.j2")),
    ("client.ts", include_str!("../templates/typescript/client.ts.j2")),
];

/// Members of the client class, which no resource may take.
const CLIENT_MEMBERS: &[&str] = &["apiKey", "baseURL", "timeout", "maxRetries", "request", "page", "userAgent"];
/// Names exported by the runtime modules, which no generated type may take.
const RUNTIME_NAMES: &[&str] = &[
    "Apinfer",
    "APIClient",
    "APIResource",
    "Page",
    "PagePromise",
    "Call",
    "ClientOptions",
    "Decimal",
    "RequestOptions",
    "ResponseKind",
    "VERSION",
    "ApinferError",
    "APIError",
    "APIConnectionError",
    "APITimeoutError",
    "APIStatusError",
    "ErrorDetailBody",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "IdempotencyConflictError",
    "InsufficientCreditsError",
    "PaymentFailedError",
    "UnprocessableEntityError",
    "RateLimitError",
    "InternalServerError",
    "UpstreamError",
    "ServiceUnavailableError",
    "makeStatusError",
];

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
    fields: Vec<FieldView>,
    alias: String,
}

#[derive(Serialize)]
struct FieldView {
    name: String,
    ty: String,
    required: bool,
    doc: Vec<String>,
}

#[derive(Serialize)]
struct ResourceView {
    attr: String,
    class: String,
    doc: Vec<String>,
    methods: Vec<MethodView>,
}

#[derive(Serialize)]
struct ParamView {
    name: String,
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
    params_type: Option<String>,
    params_var: String,
    params: Vec<ParamView>,
    query: Vec<ParamView>,
    headers: Vec<ParamView>,
    has_body: bool,
    auth: bool,
    idempotent: bool,
    kind: String,
    paginated: bool,
    result: String,
    returns: String,
}

fn docs(text: Option<&str>) -> Vec<String> {
    doc_lines(text).into_iter().map(|l| l.replace("*/", "*\\/")).collect()
}

/// The TypeScript type of a value; `prefix` qualifies named types (`types.`).
fn ts_type(ty: &Type, prefix: &str, input: bool) -> String {
    match ty {
        Type::String => "string".into(),
        Type::Decimal => "Decimal".into(),
        Type::DateTime if input => "string | Date".into(),
        Type::DateTime => "string".into(),
        Type::Integer | Type::Number => "number".into(),
        Type::Boolean => "boolean".into(),
        Type::Any => "unknown".into(),
        Type::Array(inner) => format!("Array<{}>", ts_type(inner, prefix, input)),
        Type::Map(inner) => format!("Record<string, {}>", ts_type(inner, prefix, input)),
        Type::Named(n) => format!("{prefix}{n}"),
    }
}

pub fn generate(api: &Api) -> Result<Vec<GeneratedFile>> {
    let env = render::environment(TEMPLATES)?;
    let ctx = context(api)?;
    let files = [
        ("package.json", "typescript/package.json"),
        ("tsconfig.json", "typescript/tsconfig.json"),
        ("tsconfig.cjs.json", "typescript/tsconfig.cjs.json"),
        ("README.md", "typescript/README.md"),
        ("index.ts", "typescript/src/index.ts"),
        ("version.ts", "typescript/src/version.ts"),
        ("errors.ts", "typescript/src/errors.ts"),
        ("core.ts", "typescript/src/core.ts"),
        ("types.ts", "typescript/src/types.ts"),
        ("resources.ts", "typescript/src/resources.ts"),
        ("client.ts", "typescript/src/client.ts"),
        ("webhooks.ts", "typescript/src/webhooks.ts"),
    ];
    let mut out =
        files.iter().map(|(template, path)| render::render(&env, template, path, &ctx)).collect::<Result<Vec<_>>>()?;
    // dist/ is committed: users install the package without TypeScript (see the README).
    out.push(GeneratedFile { path: "typescript/.gitignore".into(), contents: "node_modules/\n".into() });
    Ok(out)
}

fn context(api: &Api) -> Result<Ctx> {
    let mut exported: BTreeSet<String> = RUNTIME_NAMES.iter().map(|s| s.to_string()).collect();
    let mut types = Vec::new();
    for t in &api.types {
        if !exported.insert(t.name.clone()) {
            bail!("schema {:?}: the TypeScript SDK already exports that name", t.name);
        }
        let doc = docs(t.description.as_deref());
        let view = match &t.kind {
            TypeKind::Object(fields) => TypeView {
                name: t.name.clone(),
                doc,
                kind: "object",
                fields: fields
                    .iter()
                    .map(|f| {
                        let mut ty = ts_type(&f.ty, "", false);
                        if f.nullable {
                            ty = format!("{ty} | null");
                        }
                        FieldView {
                            name: f.name.clone(),
                            ty,
                            required: f.required,
                            doc: docs(f.description.as_deref()),
                        }
                    })
                    .collect(),
                alias: String::new(),
            },
            TypeKind::Enum(values) => {
                let mut alias: Vec<String> =
                    values.iter().map(|v| serde_json::to_string(v).expect("strings serialize")).collect();
                // Accept values from a newer server while keeping completion of the known ones.
                alias.push("(string & {})".into());
                TypeView { name: t.name.clone(), doc, kind: "enum", fields: Vec::new(), alias: alias.join(" | ") }
            }
            TypeKind::Union { variants, .. } => {
                TypeView { name: t.name.clone(), doc, kind: "union", fields: Vec::new(), alias: variants.join(" | ") }
            }
        };
        types.push(view);
    }
    let mut resources = Vec::new();
    for r in &api.resources {
        let attr = camel(&r.tag);
        // `Resource` keeps the class apart from a schema named after the tag (`Balance`).
        let class = format!("{}Resource", pascal(&r.tag));
        if CLIENT_MEMBERS.contains(&attr.as_str()) {
            bail!("tag {:?}: the TypeScript client already has a member {attr:?}", r.tag);
        }
        if !exported.insert(class.clone()) {
            bail!("tag {:?}: the TypeScript SDK already exports the name {class:?}", r.tag);
        }
        let mut methods = Vec::new();
        for op in &r.operations {
            let m = method(&class, op).map_err(|e| e.context(format!("operation {}", op.operation_id)))?;
            if let Some(p) = &m.params_type {
                if !exported.insert(p.clone()) {
                    bail!("operation {}: the TypeScript SDK already exports the name {p:?}", op.operation_id);
                }
            }
            methods.push(m);
        }
        resources.push(ResourceView { attr, class, doc: docs(r.description.as_deref().or(Some(&r.tag))), methods });
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

fn method(class: &str, op: &Operation) -> Result<MethodView> {
    let mut args = Vec::new();
    let mut used = BTreeSet::new();
    let mut path = op.path.clone();
    for p in &op.path_params {
        let name = ts_ident(&camel(&p.name));
        if !used.insert(name.clone()) {
            bail!("two path parameters are named {name:?}");
        }
        path = path.replace(&format!("{{{}}}", p.name), &format!("${{pathParam({name})}}"));
        args.push(format!("{name}: {}", ts_type(&p.ty, "types.", true)));
    }
    let path = if op.path_params.is_empty() { serde_json::to_string(&path)? } else { format!("`{path}`") };
    let has_body = op.body.is_some();
    if let Some(b) = &op.body {
        let optional = if b.required { "" } else { "?" };
        args.push(format!("body{optional}: types.{}", b.type_name));
    }
    let mut params = Vec::new();
    let mut query = Vec::new();
    let mut headers = Vec::new();
    for p in &op.query_params {
        let v = ParamView {
            name: p.name.clone(),
            wire: p.name.clone(),
            ty: ts_type(&p.ty, "types.", true),
            required: p.required,
            doc: docs(p.description.as_deref()),
        };
        query.push(ParamView { ty: String::new(), doc: Vec::new(), ..clone_param(&v) });
        params.push(v);
    }
    for p in &op.header_params {
        let v = if p.is_prefer() {
            ParamView {
                name: "wait".into(),
                wire: p.name.clone(),
                ty: "boolean".into(),
                required: false,
                doc: docs(Some(crate::spec::WAIT_DOC)),
            }
        } else {
            ParamView {
                name: snake(&p.name),
                wire: p.name.clone(),
                ty: "string".into(),
                required: p.required,
                doc: docs(p.description.as_deref()),
            }
        };
        headers.push(ParamView { ty: String::new(), doc: Vec::new(), ..clone_param(&v) });
        params.push(v);
    }
    let params_type = if params.is_empty() {
        None
    } else {
        Some(format!("{}{}Params", class.trim_end_matches("Resource"), pascal(&op.name)))
    };
    if let Some(t) = &params_type {
        let optional = if params.iter().any(|p| p.required) { "" } else { "?" };
        args.push(format!("params{optional}: {t}"));
    }
    args.push("options?: RequestOptions".into());
    let (kind, result) = match &op.response {
        Response::Empty => ("empty", "void".to_owned()),
        Response::Text => ("text", "string".to_owned()),
        Response::Binary(_) => ("binary", "Uint8Array".to_owned()),
        Response::Json(ty) => ("json", ts_type(ty, "types.", false)),
    };
    let (result, returns) = match &op.pagination {
        Some(p) => {
            let item = ts_type(&p.item, "types.", false);
            (item.clone(), format!("PagePromise<{item}>"))
        }
        None => (result.clone(), format!("Promise<{result}>")),
    };
    let mut doc = docs(op.summary.as_deref());
    doc.extend(docs(op.description.as_deref()));
    if op.pagination.is_some() {
        doc.push(String::new());
        doc.push("Await it for the first page, or `for await` over every item of every page.".into());
    }
    if let Response::Binary(ct) = &op.response {
        doc.push(String::new());
        doc.push(format!("Resolves to the raw bytes ({ct})."));
    }
    if op.idempotent_key {
        doc.push(String::new());
        doc.push(
            "Sends an `Idempotency-Key` (generated unless `options.idempotencyKey` is given), reused by retries."
                .into(),
        );
    }
    Ok(MethodView {
        name: camel(&op.name),
        doc,
        http_method: op.http_method.clone(),
        path,
        raw_path: op.path.clone(),
        args,
        params_type,
        params_var: "params".into(),
        params,
        query,
        headers,
        has_body,
        auth: op.auth,
        idempotent: op.idempotent_key,
        kind: kind.into(),
        paginated: op.pagination.is_some(),
        result,
        returns,
    })
}

fn clone_param(p: &ParamView) -> ParamView {
    ParamView { name: p.name.clone(), wire: p.wire.clone(), ty: p.ty.clone(), required: p.required, doc: p.doc.clone() }
}
