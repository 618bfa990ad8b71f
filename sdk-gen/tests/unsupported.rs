//! The generator fails loudly, naming the construct and where it is, on what it cannot express.

fn spec_with_schema(schema: &str) -> String {
    format!(
        r#"
openapi: 3.1.0
info: {{title: t, version: '1'}}
paths:
  /v1/things:
    get:
      tags: [things]
      operationId: list_things
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Thing'
components:
  schemas:
    Thing:
{schema}
"#
    )
}

fn error_of(spec: &str) -> String {
    format!("{:#}", apinfer_sdk_gen::generate(spec).expect_err("the spec must be refused"))
}

#[test]
fn any_of_is_refused_with_its_location() {
    let err = error_of(&spec_with_schema("      anyOf:\n      - type: string\n      - type: integer"));
    assert!(err.contains("components.schemas.Thing") && err.contains("anyOf"), "{err}");
}

#[test]
fn unknown_schema_keywords_are_refused() {
    let err =
        error_of(&spec_with_schema("      type: object\n      properties:\n        a:\n          not: {type: string}"));
    assert!(err.contains("components.schemas.Thing.properties.a") && err.contains("\"not\""), "{err}");
}

#[test]
fn non_string_enums_are_refused() {
    let err = error_of(&spec_with_schema("      type: integer\n      enum: [1, 2]"));
    assert!(err.contains("only string enums"), "{err}");
}

#[test]
fn openapi_3_0_is_refused() {
    let err = error_of("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n");
    assert!(err.contains("OpenAPI 3.1"), "{err}");
}

#[test]
fn operations_need_one_tag() {
    let spec = spec_with_schema("      type: object\n      properties: {a: {type: string}}")
        .replace("tags: [things]", "tags: []");
    let err = error_of(&spec);
    assert!(err.contains("paths./v1/things.get") && err.contains("exactly one tag"), "{err}");
}

#[test]
fn non_json_request_bodies_are_refused() {
    let spec = r#"
openapi: 3.1.0
info: {title: t, version: '1'}
paths:
  /v1/upload:
    post:
      tags: [files]
      operationId: upload
      requestBody:
        content:
          multipart/form-data:
            schema: {type: object, properties: {file: {type: string}}}
      responses:
        '201': {description: ok}
"#;
    let err = error_of(spec);
    assert!(err.contains("requestBody") && err.contains("multipart/form-data"), "{err}");
}

#[test]
fn colliding_method_names_are_refused() {
    let spec = r#"
openapi: 3.1.0
info: {title: t, version: '1'}
paths:
  /v1/things:
    get:
      tags: [things]
      operationId: list
      responses: {'200': {description: ok}}
    post:
      tags: [things]
      operationId: get_things_list
      responses: {'200': {description: ok}}
  /v1/things/{id}:
    get:
      tags: [things]
      operationId: list_things
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses: {'200': {description: ok}}
"#;
    let err = error_of(spec);
    assert!(err.contains("method name \"list\""), "{err}");
}
