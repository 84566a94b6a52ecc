//! The SAM template (`infra/template.yaml`) against the code it deploys: the
//! WebSocket routes and the function serving each, the four Lambda binaries, the
//! functions' environment variables, the DynamoDB table's definition, each
//! function's IAM policy against the calls its code makes, and the retention and
//! naming of stateful and global resources. A change on either side that the other
//! does not follow fails here, naming what differs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use livechat_aws::config::Config;
use livechat_aws::dynamo::table;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Value {
    let path = repo().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str::<Value>(&text)
        .unwrap_or_else(|e| panic!("{} is not plain YAML: {e}", path.display()))
}

fn resources(template: &Value) -> &serde_json::Map<String, Value> {
    template["Resources"]
        .as_object()
        .expect("the template has Resources")
}

/// The resources of `kind`, by logical id.
fn of_type<'a>(template: &'a Value, kind: &str) -> BTreeMap<&'a str, &'a Value> {
    resources(template)
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

/// The logical id a `Ref: X` or `Fn::GetAtt: [X, ...]` names.
fn referenced(value: &Value) -> Option<&str> {
    value["Ref"]
        .as_str()
        .or_else(|| value["Fn::GetAtt"][0].as_str())
}

/// The logical id in a `${X}` or `${X.Attr}` of a `Fn::Sub` string, after `prefix`.
fn substituted<'a>(value: &'a Value, prefix: &str) -> Option<&'a str> {
    let rest = value["Fn::Sub"].as_str()?.split_once(prefix)?.1;
    let name = rest.strip_prefix("${")?.split('}').next()?;
    Some(name.split('.').next().unwrap_or(name))
}

/// The Lambda function (logical id) behind an integration.
fn integration_function<'a>(template: &'a Value, integration: &str) -> &'a str {
    let resource = &resources(template)[integration];
    assert_eq!(
        resource["Properties"]["IntegrationType"], "AWS_PROXY",
        "{integration} must be an AWS_PROXY integration"
    );
    substituted(
        &resource["Properties"]["IntegrationUri"],
        "path/2015-03-31/functions/",
    )
    .unwrap_or_else(|| panic!("{integration}: IntegrationUri names no function"))
}

/// Each function's logical id by the binary it runs.
fn functions_by_binary(template: &Value) -> BTreeMap<String, String> {
    of_type(template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, f)| {
            assert_eq!(
                f["Metadata"]["BuildMethod"], "rust-cargolambda",
                "{id}: Metadata.BuildMethod"
            );
            let binary = f["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{id}: Metadata.BuildProperties.Binary is not set"));
            (binary.to_string(), id.to_string())
        })
        .collect()
}

/// The package name of every crate under `functions/`.
fn function_crates() -> BTreeSet<String> {
    let dir = repo().join("functions");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path().join("Cargo.toml"))
        .filter(|manifest| manifest.is_file())
        .map(|manifest| {
            let text = std::fs::read_to_string(&manifest).unwrap();
            let package = text
                .split("[package]")
                .nth(1)
                .unwrap_or_else(|| panic!("{}: no [package]", manifest.display()));
            package
                .lines()
                .find_map(|line| {
                    let (key, value) = line.split_once('=')?;
                    (key.trim() == "name").then(|| value.trim().trim_matches('"').to_string())
                })
                .unwrap_or_else(|| panic!("{}: no package name", manifest.display()))
        })
        .collect()
}

#[test]
fn routes_are_the_protocols_actions_each_on_its_function() {
    let template = template();
    let functions = functions_by_binary(&template);
    let function = |binary: &str| functions[binary].clone();

    // The deployment's one table of routes (livechat_aws::topology).
    let expected: BTreeMap<String, String> = livechat_aws::topology::routes()
        .into_iter()
        .map(|(key, f)| (key.to_string(), function(f.name)))
        .collect();

    let mut actual: BTreeMap<String, String> = BTreeMap::new();
    for (id, route) in of_type(&template, "AWS::ApiGatewayV2::Route") {
        let properties = &route["Properties"];
        let key = properties["RouteKey"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: RouteKey is not a string"));
        let integration = substituted(&properties["Target"], "integrations/")
            .unwrap_or_else(|| panic!("{id}: Target is not Fn::Sub integrations/${{...}}"));
        let previous = actual.insert(
            key.to_string(),
            integration_function(&template, integration).to_string(),
        );
        assert!(previous.is_none(), "route {key} is declared twice");
    }

    let missing: Vec<_> = expected
        .keys()
        .filter(|k| !actual.contains_key(*k))
        .collect();
    let extra: Vec<_> = actual
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "route keys differ from the protocol's: missing from the template {missing:?}, \
         not in the protocol {extra:?}"
    );
    for (key, function) in &expected {
        assert_eq!(
            &actual[key], function,
            "route {key} is integrated with {} instead of {function}",
            actual[key]
        );
    }

    // Every function behind a route may be invoked by this API.
    let permitted: BTreeSet<&str> = of_type(&template, "AWS::Lambda::Permission")
        .values()
        .filter(|p| p["Properties"]["Principal"] == "apigateway.amazonaws.com")
        .filter_map(|p| referenced(&p["Properties"]["FunctionName"]))
        .collect();
    for function in expected.values() {
        assert!(
            permitted.contains(function.as_str()),
            "{function} serves routes but has no AWS::Lambda::Permission for apigateway"
        );
    }
}

#[test]
fn every_function_crate_is_deployed_once_from_the_workspace_root() {
    let template = template();
    let functions = functions_by_binary(&template);
    let deployed: BTreeSet<String> = functions.keys().cloned().collect();
    let crates = function_crates();
    assert_eq!(
        deployed.len(),
        of_type(&template, "AWS::Serverless::Function").len(),
        "two functions build the same binary"
    );
    assert_eq!(
        deployed,
        crates,
        "the template's binaries differ from the crates under functions/: \
         not deployed {:?}, no such crate {:?}",
        crates.difference(&deployed).collect::<Vec<_>>(),
        deployed.difference(&crates).collect::<Vec<_>>()
    );
    assert_eq!(crates.len(), 5, "expected five function crates: {crates:?}");

    let globals = &template["Globals"]["Function"];
    let property = |id: &str, name: &str| -> Value {
        let own = &resources(&template)[id]["Properties"][name];
        if own.is_null() {
            globals[name].clone()
        } else {
            own.clone()
        }
    };
    // The template lives in infra/, so the workspace root is "../".
    let root = repo().join("infra");
    for id in functions.values() {
        let code_uri = property(id, "CodeUri");
        let code_uri = code_uri.as_str().unwrap_or_else(|| panic!("{id}: CodeUri"));
        let manifest = std::fs::read_to_string(root.join(code_uri).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{id}: CodeUri {code_uri} has no Cargo.toml: {e}"));
        assert!(
            manifest.contains("[workspace]"),
            "{id}: CodeUri {code_uri} must be the workspace root"
        );
        assert_eq!(property(id, "Handler"), "bootstrap", "{id}: Handler");
        assert_eq!(property(id, "Runtime"), "provided.al2023", "{id}: Runtime");
    }
}

/// A value `Config::from_lookup` accepts for `name`.
fn plausible(name: &str) -> String {
    if name == livechat_aws::config::LOCAL {
        "0".into()
    } else if name.ends_with("ENDPOINT") {
        "https://abc123.execute-api.eu-west-1.amazonaws.com/prod".into()
    } else if name.ends_with("SECONDS") {
        "100".into()
    } else if name.ends_with("EMAIL") {
        "livechat@acme.example".into()
    } else if name.ends_with("ORIGIN") {
        "https://d111.cloudfront.net".into()
    } else {
        "0123456789abcdef".repeat(4)
    }
}

/// Every variable `Config::from_lookup` reads, when all of them are set.
fn variables_the_config_reads() -> BTreeSet<String> {
    let asked = Mutex::new(BTreeSet::new());
    Config::from_lookup(|name| {
        asked.lock().unwrap().insert(name.to_string());
        Some(plausible(name))
    })
    .expect("the config accepts plausible values for every variable");
    asked.into_inner().unwrap()
}

#[test]
fn every_function_sets_the_variables_the_config_requires_and_no_others() {
    let template = template();
    let read = variables_the_config_reads();
    let globals = template["Globals"]["Function"]["Environment"]["Variables"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (binary, id) in functions_by_binary(&template) {
        let mut variables = globals.clone();
        if let Some(own) =
            resources(&template)[&id]["Properties"]["Environment"]["Variables"].as_object()
        {
            variables.extend(own.clone());
        }

        // Required: the config must start with exactly the template's variables.
        let result = Config::from_lookup(|name| variables.get(name).map(|_| plausible(name)));
        if let Err(e) = result {
            panic!("{binary} ({id}) would not start: {e} (set it in the template)");
        }

        // Deployed, not local: nothing may fall back to memory in Lambda.
        assert!(
            !variables.contains_key(livechat_aws::config::LOCAL),
            "{binary} ({id}) sets {}: a deployed function must never run as a local one",
            livechat_aws::config::LOCAL
        );

        // Known: every variable set is one the code reads.
        let unknown: Vec<&String> = variables
            .keys()
            .filter(|name| {
                !read.contains(*name)
                    && !["RUST_LOG", "LOG_FORMAT"].contains(&name.as_str())
                    && !name.starts_with("AWS_")
            })
            .collect();
        assert!(
            unknown.is_empty(),
            "{binary} ({id}) sets {unknown:?}, which the code does not read \
             (livechat_aws::config reads {read:?})"
        );
        assert_eq!(
            variables.get("LOG_FORMAT").and_then(Value::as_str),
            Some("json"),
            "{binary} ({id}): LOG_FORMAT"
        );
        let endpoint = variables["WEBSOCKET_MANAGEMENT_ENDPOINT"]["Fn::Sub"]
            .as_str()
            .unwrap_or_default();
        assert!(
            endpoint.starts_with("https://${WebSocketApi}.execute-api.")
                && endpoint.ends_with("/${Stage}"),
            "{binary} ({id}): WEBSOCKET_MANAGEMENT_ENDPOINT is {endpoint:?}"
        );
    }
}

fn names(list: &Value, field: &str) -> Vec<(String, String)> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    (
                        item["AttributeName"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        item[field].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn the_table_matches_its_definition_in_code() {
    let template = template();
    let tables = of_type(&template, "AWS::DynamoDB::Table");
    assert_eq!(
        tables.len(),
        1,
        "expected one table, found {:?}",
        tables.keys()
    );
    let (id, table_resource) = tables.into_iter().next().unwrap();
    let properties = &table_resource["Properties"];

    assert_eq!(
        properties["BillingMode"], "PAY_PER_REQUEST",
        "{id}: BillingMode"
    );
    assert_eq!(
        names(&properties["KeySchema"], "KeyType"),
        pairs(&[(table::PK, "HASH"), (table::SK, "RANGE")]),
        "{id}: KeySchema differs from livechat_aws::dynamo::table (PK, SK)"
    );
    let mut attributes = names(&properties["AttributeDefinitions"], "AttributeType");
    attributes.sort();
    let mut expected = pairs(&[
        (table::PK, "S"),
        (table::SK, "S"),
        (table::GSI1_PK, "S"),
        (table::GSI1_SK, "S"),
    ]);
    expected.sort();
    assert_eq!(
        attributes, expected,
        "{id}: AttributeDefinitions differ from livechat_aws::dynamo::table"
    );

    let indexes = properties["GlobalSecondaryIndexes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        indexes
            .iter()
            .map(|i| i["IndexName"].as_str().unwrap_or_default())
            .collect::<Vec<_>>(),
        vec![table::GSI1],
        "{id}: GlobalSecondaryIndexes names"
    );
    let index = &indexes[0];
    assert_eq!(
        names(&index["KeySchema"], "KeyType"),
        pairs(&[(table::GSI1_PK, "HASH"), (table::GSI1_SK, "RANGE")]),
        "{id}: index {} KeySchema differs from livechat_aws::dynamo::table (GSI1_PK, GSI1_SK)",
        table::GSI1
    );
    assert_eq!(
        index["Projection"]["ProjectionType"],
        "ALL",
        "{id}: index {} projection",
        table::GSI1
    );

    let ttl = &properties["TimeToLiveSpecification"];
    assert_eq!(
        ttl["AttributeName"].as_str(),
        Some(table::TTL),
        "{id}: TTL attribute differs from livechat_aws::dynamo::table::TTL"
    );
    assert_eq!(ttl["Enabled"], true, "{id}: TTL must be enabled");
    assert_eq!(
        properties["StreamSpecification"]["StreamViewType"], "NEW_AND_OLD_IMAGES",
        "{id}: the analytics read each write's old and new item, as table::create's stream gives"
    );
}

/// Each statement's actions and resources of a function's inline policies: action
/// to the resources (as JSON text) it is allowed on, and the statement itself.
fn granted(template: &Value, id: &str) -> BTreeMap<String, Vec<(String, Value)>> {
    let mut out: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    let policies = resources(template)[id]["Properties"]["Policies"]
        .as_array()
        .unwrap_or_else(|| panic!("{id}: Policies is not a list"));
    for policy in policies {
        let statements = policy["Statement"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: a policy is not an inline document: {policy}"));
        for statement in statements {
            assert_eq!(statement["Effect"], "Allow", "{id}: {statement}");
            let list = |v: &Value| match v {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            for action in list(&statement["Action"]) {
                let action = action
                    .as_str()
                    .unwrap_or_else(|| panic!("{id}: {statement}"));
                assert!(!action.contains('*'), "{id}: wildcard action {action}");
                for resource in list(&statement["Resource"]) {
                    out.entry(action.to_string())
                        .or_default()
                        .push((resource.to_string(), statement.clone()));
                }
            }
        }
    }
    out
}

/// The actions themselves are checked against the calls recorded while the
/// scenarios run (`tests/tests/iam.rs`); here, what a recording cannot show: no
/// wildcard action, and `@connections` granted exactly to the functions that push
/// and pre-warm it (`livechat_aws::runtime::Function::pushes`).
#[test]
fn only_the_functions_that_push_may_use_connections_and_no_action_is_a_wildcard() {
    let template = template();
    let functions = functions_by_binary(&template);
    for function in livechat_aws::runtime::Function::ALL {
        let id = &functions[function.name];
        let granted = granted(&template, id);
        assert_eq!(
            granted.contains_key("execute-api:ManageConnections"),
            function.pushes,
            "{} ({id}): execute-api:ManageConnections is granted iff the function pushes",
            function.name
        );
    }
}

#[test]
fn no_function_is_granted_an_index_no_request_reads() {
    let template = template();
    let dir = repo().join("aws/src/dynamo");
    // table.rs defines the index (for DynamoDB Local); a request reading it would
    // name it in `.index_name(...)` elsewhere.
    let reads_an_index = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != "table.rs")
        .any(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .contains(".index_name(")
        });
    for (binary, id) in functions_by_binary(&template) {
        let policies = resources(&template)[&id]["Properties"]["Policies"].to_string();
        let grants_an_index = policies.contains("/index/");
        assert!(
            reads_an_index || !grants_an_index,
            "{binary} ({id}) is granted an index ({}) that no request of livechat_aws::dynamo reads",
            table::GSI1
        );
    }
}

#[test]
fn stateful_resources_are_retained_except_when_their_first_create_rolls_back() {
    let template = template();
    let stateful = [
        "AWS::DynamoDB::Table",
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::Cognito::UserPool",
    ];
    for kind in stateful {
        let found = of_type(&template, kind);
        assert!(!found.is_empty(), "no {kind} in the template");
        for (id, resource) in found {
            assert_eq!(
                resource["DeletionPolicy"], "RetainExceptOnCreate",
                "{id}: DeletionPolicy (a rolled-back first create must not orphan it)"
            );
            assert_eq!(
                resource["UpdateReplacePolicy"], "Retain",
                "{id}: UpdateReplacePolicy"
            );
        }
    }
    // Plain Retain only where a rolled-back create must keep it too: the account's
    // API Gateway logging role, which ApiGatewayAccount may point the account at.
    for (id, resource) in resources(&template) {
        if resource["DeletionPolicy"] == "Retain" {
            assert_eq!(
                (id.as_str(), resource["Type"].as_str()),
                ("ApiGatewayLoggingRole", Some("AWS::IAM::Role")),
                "{id}: DeletionPolicy Retain"
            );
        }
    }
}

#[test]
fn cloudfront_names_are_unique_per_region() {
    let template = template();
    let mut named = 0;
    for (id, resource) in resources(&template) {
        let kind = resource["Type"].as_str().unwrap_or_default();
        if !kind.starts_with("AWS::CloudFront::") {
            continue;
        }
        // `Name` is on the properties or on the resource's `...Config` object.
        let properties = resource["Properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let names = std::iter::once(&resource["Properties"]["Name"]).chain(
            properties
                .iter()
                .filter(|(k, _)| k.ends_with("Config"))
                .map(|(_, v)| &v["Name"]),
        );
        for name in names.filter(|n| !n.is_null()) {
            named += 1;
            let text = name["Fn::Sub"].as_str().unwrap_or_default();
            assert!(
                text.contains("${AWS::StackName}") && text.contains("${AWS::Region}"),
                "{id} ({kind}): the name {name} is global per account: include ${{AWS::Region}}"
            );
        }
    }
    assert_eq!(
        named, 4,
        "expected the origin access control, the function and the two headers policies"
    );
}

#[test]
fn the_deployed_pages_send_the_local_gateways_security_headers_and_the_inbox_its_origin() {
    let template = template();
    let distribution = &resources(&template)["WebDistribution"]["Properties"]["DistributionConfig"];
    let policy_of = |behavior: &Value| {
        let id = referenced(&behavior["ResponseHeadersPolicyId"])
            .expect("a behavior names its response headers policy");
        resources(&template)[id]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
            .clone()
    };
    let inbox = distribution["CacheBehaviors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["PathPattern"] == "/inbox/*")
        .expect("a behavior for the Agent Inbox");
    for (page, headers, csp) in [
        (
            "/inbox/*",
            policy_of(inbox),
            livechat_gateway::assets::INBOX_CSP,
        ),
        (
            "default",
            policy_of(&distribution["DefaultCacheBehavior"]),
            livechat_gateway::assets::DEMO_CSP,
        ),
    ] {
        assert_eq!(
            headers["ContentSecurityPolicy"]["ContentSecurityPolicy"], csp,
            "{page}: the CSP `livechat dev` sends"
        );
        assert_eq!(headers["FrameOptions"]["FrameOption"], "DENY", "{page}");
        assert_eq!(
            headers["ReferrerPolicy"]["ReferrerPolicy"], "strict-origin-when-cross-origin",
            "{page}"
        );
        for header in [
            "ContentSecurityPolicy",
            "FrameOptions",
            "ContentTypeOptions",
        ] {
            assert_eq!(headers[header]["Override"], true, "{page}: {header}");
        }
    }

    // Inbox sockets open only from the distribution's pages.
    let origin = &template["Globals"]["Function"]["Environment"]["Variables"]["INBOX_ORIGIN"];
    assert_eq!(
        origin["Fn::Sub"], "https://${WebDistribution.DomainName}",
        "INBOX_ORIGIN"
    );
}
