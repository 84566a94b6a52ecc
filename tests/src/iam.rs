//! Each function's IAM policy in `infra/template.yaml` against the AWS calls its
//! code was recorded making ([`livechat_aws::calls`]): every recorded call must be
//! allowed on its resource, and (with `exact`) nothing may be granted beyond the
//! recorded calls and what the platform itself does with the function's role
//! ([`platform`]). Used by `tests/tests/iam.rs` on the in-process recordings and by
//! the `iam-check` command on the JSON lines of separate processes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use livechat_aws::calls::Call;
use serde_json::Value;

/// What an action is needed on, in the template's terms (logical ids).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// A table's ARN.
    Table(String),
    /// One index of a table.
    Index(String, String),
    /// A queue's ARN.
    Queue(String),
    /// A table's stream (`Fn::GetAtt: [table, StreamArn]`).
    Stream(String),
    /// Every stream of a table (`${table.Arn}/stream/*`: `ListStreams`).
    Streams(String),
    /// A KMS key's ARN.
    Key(String),
    /// `@connections` of the WebSocket API's stage, with this HTTP method.
    Connections(String),
    /// Any SES identity, as long as the sender is the `NotifyFromEmail` parameter.
    SesFromNotifyAddress,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Table(t) => write!(f, "{t}"),
            Target::Index(t, i) => write!(f, "{t}/index/{i}"),
            Target::Queue(q) => write!(f, "{q}"),
            Target::Stream(t) => write!(f, "{t} stream"),
            Target::Streams(t) => write!(f, "{t}/stream/*"),
            Target::Key(k) => write!(f, "{k}"),
            Target::Connections(m) => write!(f, "@connections {m}"),
            Target::SesFromNotifyAddress => write!(f, "identity/* from NotifyFromEmail"),
        }
    }
}

/// One action on one target, and why it is needed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Need {
    pub action: String,
    pub target: Target,
    /// The recorded operation, or the platform's reason.
    pub why: String,
}

/// One action a policy statement grants on one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub action: String,
    pub resource: Value,
    pub condition: Value,
}

impl Grant {
    /// Whether this grant allows `action` on `target` (and no broader resource).
    fn covers(&self, action: &str, target: &Target) -> bool {
        if self.action != action {
            return false;
        }
        let get_att = |id: &str| self.resource == serde_json::json!({"Fn::GetAtt": [id, "Arn"]});
        let sub = self.resource["Fn::Sub"].as_str().unwrap_or_default();
        match target {
            Target::Table(id) | Target::Queue(id) | Target::Key(id) => get_att(id),
            Target::Index(id, index) => sub == format!("${{{id}.Arn}}/index/{index}"),
            Target::Stream(id) => {
                self.resource == serde_json::json!({"Fn::GetAtt": [id, "StreamArn"]})
            }
            Target::Streams(id) => sub == format!("${{{id}.Arn}}/stream/*"),
            Target::Connections(method) => {
                sub.contains(":${WebSocketApi}/${Stage}/")
                    && sub.ends_with(&format!("/${{Stage}}/{method}/@connections/*"))
            }
            Target::SesFromNotifyAddress => {
                sub.ends_with(":identity/*")
                    && self.condition["StringEquals"]["ses:FromAddress"]["Ref"] == "NotifyFromEmail"
            }
        }
    }
}

/// Why the template cannot be read as this check needs.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("{0}")]
    Shape(String),
}

fn shape(message: impl Into<String>) -> TemplateError {
    TemplateError::Shape(message.into())
}

/// The parts of the template the check reads.
pub struct Template {
    doc: Value,
}

impl Template {
    /// Parses the template's YAML (plain YAML: intrinsics in their long form).
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let doc: Value = serde_saphyr::from_str(text)
            .map_err(|e| shape(format!("the template is not plain YAML: {e}")))?;
        Ok(Self::from_value(doc))
    }

    /// A template already parsed (a test edits one to prove the check fails).
    pub fn from_value(doc: Value) -> Self {
        Self { doc }
    }

    fn resource(&self, id: &str) -> &Value {
        &self.doc["Resources"][id]
    }

    /// Each function's logical id by the binary (function name) it runs.
    pub fn functions(&self) -> BTreeMap<String, String> {
        self.doc["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
            .filter_map(|(id, r)| {
                let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str()?;
                Some((binary.to_string(), id.clone()))
            })
            .collect()
    }

    /// A function's property, or the Globals' when it sets none.
    fn property(&self, id: &str, name: &str) -> Value {
        let own = &self.resource(id)["Properties"][name];
        if own.is_null() {
            self.doc["Globals"]["Function"][name].clone()
        } else {
            own.clone()
        }
    }

    /// The logical id a function's environment variable refers to (`Ref: X`).
    fn variable_ref(&self, id: &str, variable: &str) -> Option<String> {
        let own = &self.resource(id)["Properties"]["Environment"]["Variables"][variable];
        let value = if own.is_null() {
            &self.doc["Globals"]["Function"]["Environment"]["Variables"][variable]
        } else {
            own
        };
        value["Ref"].as_str().map(str::to_string)
    }

    /// The KMS key (logical id) encrypting a queue, if any.
    fn queue_key(&self, queue: &str) -> Option<String> {
        let key = &self.resource(queue)["Properties"]["KmsMasterKeyId"];
        key["Ref"]
            .as_str()
            .or_else(|| key["Fn::GetAtt"][0].as_str())
            .map(str::to_string)
    }

    /// The KMS key (logical id) encrypting a table, if any.
    fn table_key(&self, table: &str) -> Option<String> {
        let key = &self.resource(table)["Properties"]["SSESpecification"]["KMSMasterKeyId"];
        key["Ref"]
            .as_str()
            .or_else(|| key["Fn::GetAtt"][0].as_str())
            .map(str::to_string)
    }

    /// Every action a function's inline policies grant, on each resource.
    pub fn grants(&self, id: &str) -> Result<Vec<Grant>, TemplateError> {
        let mut out = Vec::new();
        let policies = self.resource(id)["Properties"]["Policies"]
            .as_array()
            .ok_or_else(|| shape(format!("{id}: Policies is not a list")))?;
        let list = |v: &Value| match v {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        };
        for policy in policies {
            let statements = policy["Statement"]
                .as_array()
                .ok_or_else(|| shape(format!("{id}: a policy is not an inline document")))?;
            for statement in statements {
                if statement["Effect"] != "Allow" {
                    return Err(shape(format!(
                        "{id}: a statement is not Allow: {statement}"
                    )));
                }
                for action in list(&statement["Action"]) {
                    let action = action
                        .as_str()
                        .ok_or_else(|| shape(format!("{id}: an action is not a string")))?;
                    for resource in list(&statement["Resource"]) {
                        out.push(Grant {
                            action: action.to_string(),
                            resource,
                            condition: statement["Condition"].clone(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}

/// What the platform itself does with a function's role, whatever its code calls:
///
/// - CloudWatch Logs: SAM attaches the managed `AWSLambdaBasicExecutionRole`
///   (`logs:CreateLogStream`, `logs:PutLogEvents`), so no inline grant is needed and
///   none may be added.
/// - The encrypted environment (`KmsKeyArn`): Lambda decrypts it at every cold start
///   with the function's role (`kms:Decrypt` on that key).
/// - An SQS event source: the event source mapping polls with the function's role
///   (`sqs:ReceiveMessage`, `sqs:DeleteMessage`, `sqs:ChangeMessageVisibility`,
///   `sqs:GetQueueAttributes` on the queue), and receiving from a KMS-encrypted
///   queue needs `kms:Decrypt` on its key.
/// - A DynamoDB stream event source: the mapping reads the stream with the
///   function's role (`dynamodb:DescribeStream`, `dynamodb:GetRecords`,
///   `dynamodb:GetShardIterator` on the stream, `dynamodb:ListStreams` on the
///   table's streams), records of a KMS-encrypted table need `kms:Decrypt` on its
///   key, and an SQS on-failure destination is sent to with the role
///   (`sqs:SendMessage`, and `kms:GenerateDataKey` and `kms:Decrypt` on the queue's
///   key when it is encrypted).
pub fn platform(template: &Template, id: &str) -> Vec<Need> {
    let mut needs = Vec::new();
    let key = template.property(id, "KmsKeyArn");
    if let Some(key) = key["Fn::GetAtt"][0].as_str().or(key["Ref"].as_str()) {
        needs.push(Need {
            action: "kms:Decrypt".into(),
            target: Target::Key(key.into()),
            why: "platform: the encrypted environment (KmsKeyArn)".into(),
        });
    }
    let events = template.resource(id)["Properties"]["Events"].as_object();
    for event in events.into_iter().flat_map(|e| e.values()) {
        if event["Type"] == "DynamoDB" {
            needs.extend(stream_needs(template, &event["Properties"]));
            continue;
        }
        if event["Type"] != "SQS" {
            continue;
        }
        let Some(queue) = event["Properties"]["Queue"]["Fn::GetAtt"][0].as_str() else {
            continue;
        };
        for action in [
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        ] {
            needs.push(Need {
                action: action.into(),
                target: Target::Queue(queue.into()),
                why: "platform: the SQS event source mapping".into(),
            });
        }
        if let Some(key) = template.queue_key(queue) {
            needs.push(Need {
                action: "kms:Decrypt".into(),
                target: Target::Key(key),
                why: format!("platform: receiving from {queue}, encrypted"),
            });
        }
    }
    needs
}

/// What a DynamoDB stream event source (its `Properties`) does with the role.
fn stream_needs(template: &Template, properties: &Value) -> Vec<Need> {
    let mut needs = Vec::new();
    let stream = &properties["Stream"]["Fn::GetAtt"];
    let Some(table) = stream[0].as_str().filter(|_| stream[1] == "StreamArn") else {
        return needs;
    };
    let why = "platform: the DynamoDB stream event source mapping";
    for action in [
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
    ] {
        needs.push(Need {
            action: action.into(),
            target: Target::Stream(table.into()),
            why: why.into(),
        });
    }
    needs.push(Need {
        action: "dynamodb:ListStreams".into(),
        target: Target::Streams(table.into()),
        why: why.into(),
    });
    if let Some(key) = template.table_key(table) {
        needs.push(Need {
            action: "kms:Decrypt".into(),
            target: Target::Key(key),
            why: format!("platform: the stream of {table}, encrypted"),
        });
    }
    let destination = &properties["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"];
    if let Some(queue) = destination[0].as_str() {
        let why = format!("platform: the on-failure destination {queue}");
        needs.push(Need {
            action: "sqs:SendMessage".into(),
            target: Target::Queue(queue.into()),
            why: why.clone(),
        });
        if let Some(key) = template.queue_key(queue) {
            for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
                needs.push(Need {
                    action: action.into(),
                    target: Target::Key(key.clone()),
                    why: format!("{why}, encrypted"),
                });
            }
        }
    }
    needs
}

/// What one recorded call needs, in the template's terms, for the function `id`:
/// its actions on its resource, and what the service does with the caller's role on
/// its behalf (sending to a KMS-encrypted queue needs `kms:GenerateDataKey` and
/// `kms:Decrypt` on the queue's key).
pub fn needs_of(template: &Template, id: &str, call: &Call) -> Result<Vec<Need>, String> {
    if call.actions.is_empty() {
        return Err(format!(
            "{} {} has no IAM actions: add it to livechat_aws::calls's table",
            call.service, call.operation
        ));
    }
    let why = format!("{} {}", call.service, call.operation);
    let target = match call.service.as_str() {
        "dynamodb" => {
            let table = template
                .variable_ref(id, "TABLE_NAME")
                .ok_or_else(|| format!("{id}: TABLE_NAME is not a Ref to a table"))?;
            match call.resource.split_once("/index/") {
                Some((_, index)) => Target::Index(table, index.to_string()),
                None => Target::Table(table),
            }
        }
        "sqs" => Target::Queue(
            template
                .variable_ref(id, "DELAY_QUEUE_URL")
                .ok_or_else(|| format!("{id}: DELAY_QUEUE_URL is not a Ref to a queue"))?,
        ),
        "execute-api" => {
            let method = call
                .resource
                .strip_suffix("/@connections")
                .and_then(|r| r.rsplit('/').next())
                .ok_or_else(|| format!("{why}: resource {} names no method", call.resource))?;
            Target::Connections(method.to_string())
        }
        "ses" => Target::SesFromNotifyAddress,
        other => return Err(format!("{why}: unknown service {other}")),
    };
    let mut needs: Vec<Need> = call
        .actions
        .iter()
        .map(|action| Need {
            action: action.clone(),
            target: target.clone(),
            why: why.clone(),
        })
        .collect();
    if let Target::Queue(queue) = &target
        && call.actions.iter().any(|a| a == "sqs:SendMessage")
        && let Some(key) = template.queue_key(queue)
    {
        for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
            needs.push(Need {
                action: action.into(),
                target: Target::Key(key.clone()),
                why: format!("{why} to {queue}, encrypted"),
            });
        }
    }
    Ok(needs)
}

/// One function's comparison.
#[derive(Debug, Default)]
pub struct FunctionReport {
    pub function: String,
    pub id: String,
    /// Every need (recorded or platform), deduplicated by action and target.
    pub needed: BTreeMap<(String, Target), BTreeSet<String>>,
    /// Every grant, as `action on resource`.
    pub granted: Vec<Grant>,
    /// Needs no grant covers.
    pub missing: Vec<(String, Target)>,
    /// Grants no need uses.
    pub excess: Vec<Grant>,
    /// Calls that could not be read as needs.
    pub errors: Vec<String>,
}

impl FunctionReport {
    /// Whether the check passes: nothing missing, no error, and (with `exact`)
    /// nothing granted beyond the needs.
    pub fn passes(&self, exact: bool) -> bool {
        self.missing.is_empty() && self.errors.is_empty() && (!exact || self.excess.is_empty())
    }
}

impl fmt::Display for FunctionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({}):", self.function, self.id)?;
        for ((action, target), why) in &self.needed {
            let why: Vec<&str> = why.iter().map(String::as_str).collect();
            writeln!(f, "  needs   {action} on {target}  ({})", why.join(", "))?;
        }
        for grant in &self.granted {
            writeln!(f, "  granted {} on {}", grant.action, grant.resource)?;
        }
        for (action, target) in &self.missing {
            writeln!(f, "  MISSING {action} on {target}: not granted")?;
        }
        for grant in &self.excess {
            writeln!(
                f,
                "  EXCESS  {} on {}: granted, no recorded call or platform need uses it",
                grant.action, grant.resource
            )?;
        }
        for error in &self.errors {
            writeln!(f, "  ERROR   {error}")?;
        }
        Ok(())
    }
}

/// Compares each function's policy with its recorded `calls` and [`platform`]
/// needs. Every function of the template is reported; one with no recorded call is
/// an error (its policy cannot be checked), as is a call of a function the template
/// does not deploy.
pub fn check(template: &Template, calls: &[Call]) -> Result<Vec<FunctionReport>, TemplateError> {
    let functions = template.functions();
    let mut reports = Vec::new();
    for (function, id) in &functions {
        let mut report = FunctionReport {
            function: function.clone(),
            id: id.clone(),
            granted: template.grants(id)?,
            ..FunctionReport::default()
        };
        let own: Vec<&Call> = calls.iter().filter(|c| &c.function == function).collect();
        if own.is_empty() {
            report.errors.push("no call recorded".into());
        }
        let mut needs = platform(template, id);
        for call in own {
            match needs_of(template, id, call) {
                Ok(more) => needs.extend(more),
                Err(e) => report.errors.push(e),
            }
        }
        for need in needs {
            report
                .needed
                .entry((need.action, need.target))
                .or_default()
                .insert(need.why);
        }
        report.missing = report
            .needed
            .keys()
            .filter(|(action, target)| !report.granted.iter().any(|g| g.covers(action, target)))
            .cloned()
            .collect();
        report.excess = report
            .granted
            .iter()
            .filter(|g| !report.needed.keys().any(|(a, t)| g.covers(a, t)))
            .cloned()
            .collect();
        reports.push(report);
    }
    let unknown: BTreeSet<&str> = calls
        .iter()
        .map(|c| c.function.as_str())
        .filter(|f| !functions.contains_key(*f))
        .collect();
    if let (Some(first), false) = (reports.first_mut(), unknown.is_empty()) {
        first.errors.push(format!(
            "calls of functions the template does not deploy: {unknown:?}"
        ));
    }
    Ok(reports)
}

/// Reads JSON lines of [`Call`]s (blank lines skipped); the line number of a bad one.
pub fn read_calls(text: &str) -> Result<Vec<Call>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", n + 1)))
        .collect()
}
