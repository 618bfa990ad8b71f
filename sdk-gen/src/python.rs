//! The Python SDK (`sdks/python`): a sync and an async client over httpx, dataclass models.

use anyhow::{bail, Result};
use serde::Serialize;

use crate::naming::{pascal, python_ident, snake};
use crate::render::{self, doc_lines, Template};
use crate::spec::{Api, Operation, Response, Type, TypeKind};
use crate::{GeneratedFile, REGENERATE_COMMAND};

const TEMPLATES: &[Template] = &[
    ("pyproject.toml", include_str!("../templates/python/pyproject.toml.j2")),
    ("README.md", include_str!("../templates/python/README.md.j2")),
    ("__init__.py", include_str!("../templates/python/__init__.py.j2")),
    ("_version.py", include_str!("../templates/python/_version.py.j2")),
    ("_errors.py", include_str!("../templates/python/_errors.py.j2")),
    ("_models.py", include_str!("../templates/python/_models.py.j2")),
    ("_base.py", include_str!("../templates/python/_base.py.j2")),
    ("_client.py", include_str!("../templates/python/_client.py.j2")),
    ("types.py", include_str!("../templates/python/types.py.j2")),
    ("resources.py", include_str!("../templates/python/resources.py.j2")),
    ("webhooks.py", include_str!("../templates/python/webhooks.py.j2")),
];

/// Names the client classes use for themselves, which no resource may take.
const CLIENT_ATTRIBUTES: &[&str] =
    &["api_key", "base_url", "timeout", "max_retries", "request", "close", "user_agent", "with_options"];
/// Keyword arguments every method has, which no parameter or body field may take.
const CALL_OPTIONS: &[&str] = &["idempotency_key", "timeout", "extra_headers", "max_retries", "self"];

#[derive(Serialize)]
struct Ctx {
    header: String,
    regenerate: &'static str,
    version: String,
    title: String,
    description: Vec<String>,
    default_base_url: String,
    enums: Vec<EnumView>,
    models: Vec<ModelView>,
    unions: Vec<UnionView>,
    resources: Vec<ResourceView>,
    exports: Vec<String>,
    example: Option<ExampleView>,
}

#[derive(Serialize)]
struct EnumView {
    name: String,
    doc: Vec<String>,
    values: Vec<String>,
}

#[derive(Serialize)]
struct ModelView {
    name: String,
    doc: Vec<String>,
    fields: Vec<FieldView>,
}

#[derive(Serialize)]
struct FieldView {
    attr: String,
    wire: String,
    annotation: String,
    spec: String,
    required: bool,
    default: String,
    doc: Vec<String>,
}

#[derive(Serialize)]
struct UnionView {
    name: String,
    doc: Vec<String>,
    variants: Vec<String>,
    discriminator: Option<String>,
    mapping: Vec<(String, String)>,
}

#[derive(Serialize)]
struct ResourceView {
    attr: String,
    class: String,
    doc: Vec<String>,
    methods: Vec<MethodView>,
}

#[derive(Serialize, Clone)]
struct ArgView {
    name: String,
    annotation: String,
    default: String,
    doc: Vec<String>,
    wire: String,
    spec: String,
}

#[derive(Serialize)]
struct MethodView {
    name: String,
    doc: Vec<String>,
    http_method: String,
    path: String,
    raw_path: String,
    positional: Vec<ArgView>,
    keyword: Vec<ArgView>,
    query: Vec<ArgView>,
    headers: Vec<ArgView>,
    body_type: Option<String>,
    body_args: Vec<ArgView>,
    idempotent: bool,
    auth: bool,
    kind: String,
    spec: String,
    returns: String,
    async_returns: String,
    item: String,
}

#[derive(Serialize)]
struct ExampleView {
    resource: String,
    method: String,
    paginated: bool,
}

/// Python source for a docstring body.
fn doc_escape(lines: &[String]) -> Vec<String> {
    lines.iter().map(|l| l.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"")).collect()
}

fn docs(text: Option<&str>) -> Vec<String> {
    doc_escape(&doc_lines(text))
}

fn is_kind(api: &Api, name: &str, f: impl Fn(&TypeKind) -> bool) -> bool {
    api.type_named(name).is_some_and(|t| f(&t.kind))
}

/// The runtime type spec (see `_models.py`).
fn spec_of(api: &Api, ty: &Type) -> String {
    match ty {
        Type::String => "str".into(),
        Type::Decimal => "decimal".into(),
        Type::DateTime => "datetime".into(),
        Type::Integer => "int".into(),
        Type::Number => "float".into(),
        Type::Boolean => "bool".into(),
        Type::Any => "any".into(),
        Type::Array(inner) => format!("list:{}", spec_of(api, inner)),
        Type::Map(inner) => format!("map:{}", spec_of(api, inner)),
        Type::Named(n) if is_kind(api, n, |k| matches!(k, TypeKind::Enum(_))) => "enum".into(),
        Type::Named(n) if is_kind(api, n, |k| matches!(k, TypeKind::Union { .. })) => format!("union:{n}"),
        Type::Named(n) => format!("model:{n}"),
    }
}

/// The annotation of a decoded value.
fn annotation(ty: &Type) -> String {
    match ty {
        Type::String => "str".into(),
        Type::Decimal => "Decimal".into(),
        Type::DateTime => "datetime.datetime".into(),
        Type::Integer => "int".into(),
        Type::Number => "float".into(),
        Type::Boolean => "bool".into(),
        Type::Any => "Any".into(),
        Type::Array(inner) => format!("List[{}]", annotation(inner)),
        Type::Map(inner) => format!("Dict[str, {}]", annotation(inner)),
        Type::Named(n) => n.clone(),
    }
}

/// The annotation of an argument: what a caller may pass.
fn input_annotation(api: &Api, ty: &Type, prefix: &str) -> String {
    match ty {
        Type::Decimal => format!("{prefix}DecimalInput"),
        Type::DateTime => "datetime.datetime".into(),
        Type::Array(inner) => format!("Sequence[{}]", input_annotation(api, inner, prefix)),
        Type::Map(inner) => format!("Mapping[str, {}]", input_annotation(api, inner, prefix)),
        Type::Named(n) if is_kind(api, n, |k| matches!(k, TypeKind::Object(_))) => {
            format!("Union[{prefix}{n}, Mapping[str, Any]]")
        }
        Type::Named(n) => format!("{prefix}{n}"),
        other => annotation(other),
    }
}

pub fn generate(api: &Api) -> Result<Vec<GeneratedFile>> {
    let env = render::environment(TEMPLATES)?;
    let ctx = context(api)?;
    let files = [
        ("pyproject.toml", "python/pyproject.toml"),
        ("README.md", "python/README.md"),
        ("__init__.py", "python/src/apinfer/__init__.py"),
        ("_version.py", "python/src/apinfer/_version.py"),
        ("_errors.py", "python/src/apinfer/_errors.py"),
        ("_models.py", "python/src/apinfer/_models.py"),
        ("_base.py", "python/src/apinfer/_base.py"),
        ("_client.py", "python/src/apinfer/_client.py"),
        ("types.py", "python/src/apinfer/types.py"),
        ("resources.py", "python/src/apinfer/resources.py"),
        ("webhooks.py", "python/src/apinfer/webhooks.py"),
    ];
    let mut out = Vec::new();
    for (template, path) in files {
        out.push(render::render(&env, template, path, &ctx)?);
    }
    out.push(GeneratedFile { path: "python/src/apinfer/py.typed".into(), contents: String::new() });
    out.push(GeneratedFile {
        path: "python/.gitignore".into(),
        contents: "build/\ndist/\n*.egg-info/\n__pycache__/\n".into(),
    });
    Ok(out)
}

fn context(api: &Api) -> Result<Ctx> {
    let mut enums = Vec::new();
    let mut models = Vec::new();
    let mut unions = Vec::new();
    for t in &api.types {
        let doc = docs(t.description.as_deref());
        match &t.kind {
            TypeKind::Enum(values) => enums.push(EnumView {
                name: t.name.clone(),
                doc,
                values: values.iter().map(|v| serde_json::to_string(v).expect("strings serialize")).collect(),
            }),
            TypeKind::Object(fields) => {
                let mut views = Vec::new();
                // Dataclass fields without defaults must come first.
                let ordered = fields.iter().filter(|f| f.required).chain(fields.iter().filter(|f| !f.required));
                for f in ordered {
                    let attr = python_ident(&f.name);
                    if attr.starts_with('_') {
                        bail!("{}.{}: property names starting with _ are not supported in Python", t.name, f.name);
                    }
                    let base = annotation(&f.ty);
                    let annotation = if f.nullable || !f.required { format!("Optional[{base}]") } else { base };
                    views.push(FieldView {
                        attr,
                        wire: f.name.clone(),
                        annotation,
                        spec: spec_of(api, &f.ty),
                        required: f.required,
                        default: if f.required { String::new() } else { " = None".into() },
                        doc: docs(f.description.as_deref()),
                    });
                }
                models.push(ModelView { name: t.name.clone(), doc, fields: views });
            }
            TypeKind::Union { variants, discriminator } => {
                let mut mapping = Vec::new();
                if let Some(d) = discriminator {
                    for v in variants {
                        if let Some(value) = api.fields_of(v).iter().find(|f| f.name == *d).and_then(|f| match &f.ty {
                            Type::Named(e) => match api.type_named(e).map(|t| &t.kind) {
                                Some(TypeKind::Enum(vals)) if vals.len() == 1 => Some(vals[0].clone()),
                                _ => None,
                            },
                            _ => None,
                        }) {
                            mapping.push((serde_json::to_string(&value)?, v.clone()));
                        }
                    }
                }
                unions.push(UnionView {
                    name: t.name.clone(),
                    doc,
                    variants: variants.clone(),
                    discriminator: discriminator.as_ref().map(|d| serde_json::to_string(d).expect("strings serialize")),
                    mapping,
                });
            }
        }
    }

    let mut resources = Vec::new();
    for r in &api.resources {
        let attr = python_ident(&snake(&r.tag));
        if CLIENT_ATTRIBUTES.contains(&attr.as_str()) {
            bail!("tag {:?}: the Python client already has an attribute {attr:?}", r.tag);
        }
        let mut methods = Vec::new();
        for op in &r.operations {
            methods.push(method(api, op).map_err(|e| e.context(format!("operation {}", op.operation_id)))?);
        }
        resources.push(ResourceView {
            attr,
            class: pascal(&r.tag),
            doc: docs(r.description.as_deref().or(Some(&r.tag))),
            methods,
        });
    }
    let mut exports: Vec<String> = api.types.iter().map(|t| t.name.clone()).collect();
    exports.sort();
    let example = api
        .resources
        .iter()
        .flat_map(|r| r.operations.iter().map(move |o| (r, o)))
        .find(|(_, o)| o.pagination.is_some() && o.auth)
        .map(|(r, o)| ExampleView { resource: snake(&r.tag), method: o.name.clone(), paginated: true });
    Ok(Ctx {
        header: format!(
            "Generated by apinfer-sdk-gen from openapi.yaml; do not edit. Regenerate: {REGENERATE_COMMAND}"
        ),
        regenerate: REGENERATE_COMMAND,
        version: api.version.clone(),
        title: api.title.clone(),
        description: doc_lines(api.description.as_deref()),
        default_base_url: "http://localhost:8080".into(),
        enums,
        models,
        unions,
        resources,
        exports,
        example,
    })
}

fn method(api: &Api, op: &Operation) -> Result<MethodView> {
    let mut used: Vec<String> = Vec::new();
    let mut take = |name: &str| -> Result<String> {
        let ident = python_ident(name);
        if CALL_OPTIONS.contains(&ident.as_str()) || used.contains(&ident) {
            bail!("the Python argument {ident:?} is taken twice (or by a call option)");
        }
        used.push(ident.clone());
        Ok(ident)
    };
    let mut positional = Vec::new();
    let mut path = op.path.clone();
    for p in &op.path_params {
        let name = take(&p.name)?;
        path = path.replace(&format!("{{{}}}", p.name), &format!("{{path_param({name})}}"));
        positional.push(ArgView {
            name,
            annotation: input_annotation(api, &p.ty, "types."),
            default: String::new(),
            doc: docs(p.description.as_deref()),
            wire: p.name.clone(),
            spec: spec_of(api, &p.ty),
        });
    }
    let mut query = Vec::new();
    for p in &op.query_params {
        let name = take(&p.name)?;
        let base = input_annotation(api, &p.ty, "types.");
        let (annotation, default) = if p.required {
            (base, String::new())
        } else {
            (format!("Union[{base}, None, NotGiven]"), " = NOT_GIVEN".into())
        };
        query.push(ArgView {
            name,
            annotation,
            default,
            doc: docs(p.description.as_deref()),
            wire: p.name.clone(),
            spec: spec_of(api, &p.ty),
        });
    }
    let mut headers = Vec::new();
    for p in &op.header_params {
        if p.is_prefer() {
            headers.push(ArgView {
                name: take("wait")?,
                annotation: "bool".into(),
                default: " = True".into(),
                doc: docs(Some(crate::spec::WAIT_DOC)),
                wire: p.name.clone(),
                spec: "bool".into(),
            });
            continue;
        }
        let name = take(&snake(&p.name))?;
        let (annotation, default) =
            if p.required { ("str".to_owned(), String::new()) } else { ("Optional[str]".to_owned(), " = None".into()) };
        headers.push(ArgView {
            name,
            annotation,
            default,
            doc: docs(p.description.as_deref()),
            wire: p.name.clone(),
            spec: "str".into(),
        });
    }
    let mut body_args = Vec::new();
    if let Some(body) = &op.body {
        let fields = api.fields_of(&body.type_name);
        let ordered = fields.iter().filter(|f| f.required).chain(fields.iter().filter(|f| !f.required));
        for f in ordered {
            let name = take(&f.name)?;
            let mut base = input_annotation(api, &f.ty, "types.");
            if f.nullable {
                base = format!("Optional[{base}]");
            }
            let (annotation, default) = if f.required {
                (base, String::new())
            } else {
                (format!("Union[{base}, NotGiven]"), " = NOT_GIVEN".into())
            };
            body_args.push(ArgView {
                name,
                annotation,
                default,
                doc: docs(f.description.as_deref()),
                wire: f.name.clone(),
                spec: spec_of(api, &f.ty),
            });
        }
    }
    let mut keyword: Vec<ArgView> = Vec::new();
    // Required keyword arguments first, for readability of the signature.
    keyword.extend(query.iter().chain(&body_args).chain(&headers).filter(|a| a.default.is_empty()).cloned());
    keyword.extend(query.iter().chain(&body_args).chain(&headers).filter(|a| !a.default.is_empty()).cloned());
    let (kind, spec, returns, item) = match (&op.response, &op.pagination) {
        (_, Some(p)) => {
            let item = format!("types.{}", annotation(&p.item)).replace("types.List[", "List[types.");
            ("page".to_owned(), spec_of(api, &p.item), item.clone(), item)
        }
        (Response::Empty, None) => ("empty".to_owned(), "any".to_owned(), "None".to_owned(), String::new()),
        (Response::Text, None) => ("text".to_owned(), "any".to_owned(), "str".to_owned(), String::new()),
        (Response::Binary(_), None) => ("binary".to_owned(), "any".to_owned(), "bytes".to_owned(), String::new()),
        (Response::Json(ty), None) => {
            let ann = match ty {
                Type::Named(n) => format!("types.{n}"),
                other => annotation(other),
            };
            ("json".to_owned(), spec_of(api, ty), ann, String::new())
        }
    };
    let mut doc = docs(op.summary.as_deref());
    doc.extend(docs(op.description.as_deref()));
    if let Response::Binary(ct) = &op.response {
        doc.push(String::new());
        doc.push(format!("Returns the raw bytes ({ct})."));
    }
    let (returns, async_returns) = if kind == "page" {
        (format!("SyncPage[{returns}]"), format!("AsyncPaginator[{returns}]"))
    } else {
        (returns.clone(), returns)
    };
    let path = if op.path_params.is_empty() {
        serde_json::to_string(&path)?
    } else {
        format!("f{}", serde_json::to_string(&path)?)
    };
    Ok(MethodView {
        name: python_ident(&op.name),
        doc,
        http_method: op.http_method.clone(),
        path,
        raw_path: op.path.clone(),
        positional,
        keyword,
        query,
        headers,
        body_type: op.body.as_ref().map(|b| b.type_name.clone()),
        body_args,
        idempotent: op.idempotent_key,
        auth: op.auth,
        kind,
        spec,
        returns,
        async_returns,
        item,
    })
}
