//! The `connect` binary's init as Lambda sees it, against a stand-in for the Lambda
//! Runtime API on a local port: a missing variable or an unreachable table fails the
//! init with one JSON log line naming it and a POST to `/runtime/init/error`, then a
//! non-zero exit; without `TABLE_NAME` it refuses to start unless the run says it
//! is local (`LIVECHAT_LOCAL=1`). Every function's `main` is the same
//! `livechat_aws::runtime::serve`, so one binary stands for the four.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// One request the stand-in received.
#[derive(Debug)]
struct Request {
    method: String,
    path: String,
    /// Header names in lower case.
    headers: HashMap<String, String>,
    body: String,
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A stand-in for the Runtime API: every request goes to the channel; an error
/// report is answered `202 Accepted` as Lambda does, and a `/invocation/next` is
/// held open (no event comes), as Lambda holds it between invocations.
fn runtime_api() -> (String, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let Some(request) = read_request(&stream) else {
                continue;
            };
            if request.path.ends_with("/invocation/next") {
                held.push(stream);
            } else {
                let _ = stream.write_all(
                    b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
            if tx.send(request).is_err() {
                break;
            }
        }
    });
    (addr, rx)
}

/// The environment the template gives a function, less `leave_out`, plus `add`.
fn environment(leave_out: &[&str], add: &[(&str, String)]) -> Vec<(String, String)> {
    let base = [
        (
            "WEBSOCKET_MANAGEMENT_ENDPOINT",
            "https://abc123.execute-api.eu-west-1.amazonaws.com/prod",
        ),
        (
            "DELAY_QUEUE_URL",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/livechat-DelayQueue",
        ),
        ("TOKEN_ISSUER", "livechat-test"),
        ("AGENT_TOKEN_AUDIENCE", "livechat-inbox"),
        ("AGENT_TOKEN_SECRET", "test-only-agent-token-secret"),
        (
            "VISITOR_TOKEN_SECRET",
            "test-only-visitor-token-secret-0123456789",
        ),
        ("TABLE_NAME", "livechat-test-table"),
        ("INBOX_ORIGIN", "https://d111.cloudfront.net"),
        ("RUST_LOG", "info"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let mut env: Vec<(String, String)> = base
        .iter()
        .filter(|(k, _)| !leave_out.contains(k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.extend(add.iter().map(|(k, v)| (k.to_string(), v.clone())));
    env
}

/// What Lambda itself sets beside the function's own variables, with `api` as the
/// Runtime API.
fn in_lambda(api: String) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", api),
        (
            "AWS_LAMBDA_FUNCTION_NAME",
            "livechat-ConnectFunction".into(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/livechat".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "test".into()),
    ]
}

fn spawn(env: &[(String, String)]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_connect"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the connect binary starts")
}

/// Runs the binary to its exit (at most 60 s).
fn run(env: &[(String, String)]) -> Output {
    let mut child = spawn(env);
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the function did not exit within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// The process's only output line, as JSON.
fn the_json_line(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one log line, got stdout {stdout:?}, stderr {stderr:?}"
    );
    assert!(
        stderr.trim().is_empty(),
        "nothing else is printed (no `Error: Missing(..)`): stderr {stderr:?}"
    );
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("not JSON ({e}): {}", lines[0]))
}

/// The init error the function posted; no `/invocation/next` before it.
fn the_init_error(requests: &mpsc::Receiver<Request>) -> Request {
    let request = requests
        .recv_timeout(Duration::from_secs(5))
        .expect("the function posted to the Runtime API");
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/2018-06-01/runtime/init/error"),
        "{request:?}"
    );
    assert!(
        requests.try_recv().is_err(),
        "nothing after the init error: the function exits"
    );
    request
}

#[test]
fn a_missing_variable_fails_the_init_with_one_json_line_and_an_init_error_post() {
    let (api, requests) = runtime_api();
    let output = run(&environment(&["TABLE_NAME"], &in_lambda(api)));
    assert!(!output.status.success(), "exit status {:?}", output.status);

    let line = the_json_line(&output);
    assert_eq!(line["level"], "ERROR", "{line}");
    assert_eq!(line["fields"]["variable"], "TABLE_NAME", "{line}");
    assert_eq!(
        line["fields"]["error_type"], "Runtime.MissingVariable",
        "{line}"
    );
    assert!(
        line["fields"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("TABLE_NAME")),
        "{line}"
    );

    let request = the_init_error(&requests);
    assert_eq!(
        request
            .headers
            .get("lambda-runtime-function-error-type")
            .map(String::as_str),
        Some("Runtime.MissingVariable"),
        "{request:?}"
    );
    let body: Value = serde_json::from_str(&request.body).expect("a JSON body");
    assert_eq!(body["errorType"], "Runtime.MissingVariable", "{body}");
    assert_eq!(
        body["errorMessage"], "environment variable TABLE_NAME is not set",
        "{body}"
    );
}

#[test]
fn an_unreachable_table_is_named() {
    // A port nobody listens on: the table cannot be reached.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (api, requests) = runtime_api();
    let mut add = in_lambda(api);
    add.push(("TABLE_NAME", "livechat-unreachable-table".into()));
    add.push(("DYNAMODB_ENDPOINT", endpoint));
    let output = run(&environment(&["TABLE_NAME"], &add));
    assert!(!output.status.success(), "exit status {:?}", output.status);

    let line = the_json_line(&output);
    assert_eq!(
        line["fields"]["table"], "livechat-unreachable-table",
        "{line}"
    );
    let request = the_init_error(&requests);
    let body: Value = serde_json::from_str(&request.body).expect("a JSON body");
    assert_eq!(body["errorType"], "Runtime.TableUnavailable", "{body}");
    assert!(
        body["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("livechat-unreachable-table")),
        "{body}"
    );
}

#[test]
fn without_table_name_it_refuses_to_start_unless_the_run_is_local() {
    // Outside Lambda too: no Runtime API to tell, but no start either.
    let output = run(&environment(
        &["TABLE_NAME"],
        &[("LOG_FORMAT", "json".into())],
    ));
    assert!(!output.status.success(), "exit status {:?}", output.status);
    assert_eq!(the_json_line(&output)["fields"]["variable"], "TABLE_NAME");

    // LIVECHAT_LOCAL=0 is not local either.
    let (api, requests) = runtime_api();
    let mut add = in_lambda(api);
    add.push(("LIVECHAT_LOCAL", "0".into()));
    let output = run(&environment(&["TABLE_NAME"], &add));
    assert!(!output.status.success(), "exit status {:?}", output.status);
    the_init_error(&requests);

    // A local run starts on the in-memory store and in-process timers: it asks the
    // Runtime API for its first event.
    let (api, requests) = runtime_api();
    let mut add = in_lambda(api);
    add.push(("LIVECHAT_LOCAL", "1".into()));
    let mut child = spawn(&environment(&["TABLE_NAME", "DELAY_QUEUE_URL"], &add));
    let first = requests.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let first = first.unwrap_or_else(|_| {
        panic!(
            "a local run did not start: stdout {:?}, stderr {:?}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("GET", "/2018-06-01/runtime/invocation/next"),
        "{first:?}"
    );
}
