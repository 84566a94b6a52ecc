//! Cold start: each function binary is exec'd against a local Lambda Runtime API
//! served here, as the Lambda service would run it. Measured: the time from spawn to
//! the function's first `GET /runtime/invocation/next` (its init is done), its peak
//! RSS at that moment, and the duration of its first invocation (event delivered to
//! response posted), with and without the init-time connection pre-warm
//! (`LIVECHAT_PREWARM`). The functions reach `@connections` over TLS, as in AWS
//! ([`TlsEndpoint`]), so the handshake the pre-warm moves into init is real.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::oneshot;

use crate::machine::vm_bytes;

/// What one launch measured.
#[derive(Debug, Clone, Copy)]
pub struct Launch {
    /// Spawn to the first `next` request, in ms.
    pub init_ms: f64,
    /// Peak RSS (VmHWM) when the first `next` arrived, in bytes.
    pub rss: u64,
    /// Event delivered to response received, in ms (when an event was given).
    pub first_invoke_ms: Option<f64>,
}

#[derive(Default)]
struct Api {
    pid: Mutex<Option<u32>>,
    nexts: AtomicU32,
    ready: Mutex<Option<oneshot::Sender<(Instant, u64)>>>,
    event: Mutex<Option<oneshot::Receiver<String>>>,
    delivered: Mutex<Option<Instant>>,
    done: Mutex<Option<oneshot::Sender<Instant>>>,
}

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// `GET /2018-06-01/runtime/invocation/next`: the first call marks the end of init
/// and gets the event (if any); later calls wait forever, as an idle sandbox does.
async fn next(State(api): State<Arc<Api>>) -> Response {
    let arrived = Instant::now();
    if api.nexts.fetch_add(1, Ordering::SeqCst) > 0 {
        std::future::pending::<()>().await;
    }
    let pid = loop {
        if let Some(pid) = *api.pid.lock().unwrap_or_else(|e| e.into_inner()) {
            break pid;
        }
        tokio::task::yield_now().await;
    };
    let rss = vm_bytes(pid, "VmHWM").unwrap_or(0);
    if let Some(ready) = take(&api.ready) {
        let _ = ready.send((arrived, rss));
    }
    let event = match take(&api.event) {
        Some(rx) => rx.await.ok(),
        None => None,
    };
    let Some(body) = event else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    let mut headers = HeaderMap::new();
    let deadline = jiff::Timestamp::now().as_millisecond() + 30_000;
    headers.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_static("bench-request-1"),
    );
    headers.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from_str(&deadline.to_string()).unwrap_or(HeaderValue::from_static("0")),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:000000000000:function:bench"),
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    *api.delivered.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    (StatusCode::OK, headers, body).into_response()
}

/// `POST /2018-06-01/runtime/invocation/{id}/response` (and `/error`).
async fn response(State(api): State<Arc<Api>>) -> StatusCode {
    if let Some(done) = take(&api.done) {
        let _ = done.send(Instant::now());
    }
    StatusCode::ACCEPTED
}

/// The function's `@connections` pushes land here and are accepted.
async fn pushed() -> StatusCode {
    StatusCode::OK
}

/// The `@connections` endpoint over TLS, as the functions reach it in AWS: a
/// certificate for 127.0.0.1 made with `openssl` for this run, which the functions
/// trust through `SSL_CERT_FILE` (the system's roots with it appended, so loading
/// the roots at init costs about what it does on Lambda).
pub struct TlsEndpoint {
    acceptor: tokio_rustls::TlsAcceptor,
    roots: PathBuf,
}

impl TlsEndpoint {
    /// Makes the certificate and the server's TLS configuration.
    pub fn new() -> Result<Self, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let dir = std::env::temp_dir().join("livechat-bench-tls");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let (cert, key, conf) = (
            dir.join("cert.pem"),
            dir.join("key.pem"),
            dir.join("openssl.cnf"),
        );
        // A server certificate, not a CA (which the functions' verifier refuses as
        // the end entity), and itself the root the functions trust.
        let settings = "[req]\ndistinguished_name = dn\nx509_extensions = server\nprompt = no\n\
            [dn]\nCN = 127.0.0.1\n\
            [server]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
            extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n";
        std::fs::write(&conf, settings).map_err(|e| format!("{}: {e}", conf.display()))?;
        let made = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args([
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-config",
            ])
            .arg(&conf)
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match made {
            Ok(status) if status.success() => {}
            Ok(status) => return Err(format!("openssl req failed ({status})")),
            Err(e) => return Err(format!("openssl, which makes the TLS certificate: {e}")),
        }
        let certs = CertificateDer::pem_file_iter(&cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{}: {e}", cert.display()))?;
        let private =
            PrivateKeyDer::from_pem_file(&key).map_err(|e| format!("{}: {e}", key.display()))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(certs, private))
            .map_err(|e| format!("TLS configuration: {e}"))?;
        let mut roots =
            std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
        roots += &std::fs::read_to_string(&cert).map_err(|e| format!("{}: {e}", cert.display()))?;
        let roots_path = dir.join("roots.pem");
        std::fs::write(&roots_path, roots).map_err(|e| format!("{}: {e}", roots_path.display()))?;
        Ok(Self {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            roots: roots_path,
        })
    }

    /// Serves `app` over TLS on a new port; returns the port and the server task.
    async fn serve(&self, app: Router) -> Result<(u16, tokio::task::JoinHandle<()>), String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let acceptor = self.acceptor.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok((port, task))
    }
}

/// Execs `binary` with `env` against a fresh local Runtime API and measures it;
/// delivers `event` as the first invocation when given. Its `@connections`
/// endpoint is served here, over `tls` when given.
pub async fn launch(
    binary: &Path,
    env: &[(String, String)],
    event: Option<String>,
    tls: Option<&TlsEndpoint>,
) -> Result<Launch, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let api = Arc::new(Api::default());
    let (ready_tx, ready_rx) = oneshot::channel();
    let (event_tx, event_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    *api.ready.lock().unwrap_or_else(|e| e.into_inner()) = Some(ready_tx);
    *api.event.lock().unwrap_or_else(|e| e.into_inner()) = Some(event_rx);
    *api.done.lock().unwrap_or_else(|e| e.into_inner()) = Some(done_tx);
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(response))
        .route("/local/@connections/{id}", post(pushed))
        .with_state(api.clone());
    let (management, roots, tls_server) = match tls {
        Some(tls) => {
            let (port, task) = tls.serve(app.clone()).await?;
            (
                format!("https://127.0.0.1:{port}/local"),
                Some(tls.roots.clone()),
                Some(task),
            )
        }
        None => (format!("http://{addr}/local"), None, None),
    };
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let log = std::env::temp_dir().join(format!(
        "livechat-bench-{}.log",
        binary.file_name().and_then(|n| n.to_str()).unwrap_or("fn")
    ));
    let stderr = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let mut command = std::process::Command::new(binary);
    command
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("WEBSOCKET_MANAGEMENT_ENDPOINT", management)
        .envs(roots.map(|r| ("SSL_CERT_FILE", r)))
        .stdout(Stdio::null())
        .stderr(stderr);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    *api.pid.lock().unwrap_or_else(|e| e.into_inner()) = Some(child.id());

    let outcome = async {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut ready_rx = ready_rx;
        let (ready_at, rss) = loop {
            tokio::select! {
                ready = &mut ready_rx => break ready.map_err(|_| "runtime API closed".to_string())?,
                () = tokio::time::sleep(Duration::from_millis(20)) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        return Err(format!("{} exited ({status}) during init; see {}", binary.display(), log.display()));
                    }
                    if Instant::now() > deadline {
                        return Err(format!("{} did not ask for work within 20 s; see {}", binary.display(), log.display()));
                    }
                }
            }
        };
        let init_ms = ready_at.duration_since(started).as_secs_f64() * 1e3;
        let first_invoke_ms = match event {
            Some(body) => {
                let _ = event_tx.send(body);
                let done_at = tokio::time::timeout(Duration::from_secs(20), done_rx)
                    .await
                    .map_err(|_| {
                        format!(
                            "{} did not answer its first event; see {}",
                            binary.display(),
                            log.display()
                        )
                    })?
                    .map_err(|_| "runtime API closed".to_string())?;
                let delivered =
                    (*api.delivered.lock().unwrap_or_else(|e| e.into_inner())).unwrap_or(ready_at);
                Some(done_at.duration_since(delivered).as_secs_f64() * 1e3)
            }
            None => None,
        };
        Ok::<_, String>(Launch {
            init_ms,
            rss,
            first_invoke_ms,
        })
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    server.abort();
    if let Some(task) = tls_server {
        task.abort();
    }
    outcome
}

/// The environment a function gets in Lambda, pointed at DynamoDB Local's `table`.
pub fn function_env(
    name: &str,
    endpoint: &str,
    table: &str,
    prewarm: bool,
) -> Vec<(String, String)> {
    let pairs = [
        ("TABLE_NAME", table),
        ("DYNAMODB_ENDPOINT", endpoint),
        ("TOKEN_ISSUER", livechat_gateway::LOCAL_ISSUER),
        ("AGENT_TOKEN_AUDIENCE", livechat_gateway::LOCAL_AUDIENCE),
        ("AGENT_TOKEN_SECRET", livechat_gateway::LOCAL_AGENT_SECRET),
        (
            "VISITOR_TOKEN_SECRET",
            livechat_gateway::LOCAL_VISITOR_SECRET,
        ),
        ("AWS_REGION", "us-east-1"),
        // DynamoDB Local keeps one database per access key and region: the
        // bench's own client (livechat_gateway::local_sdk_config) uses `local`.
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("RUST_LOG", "warn"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        ("LIVECHAT_PREWARM", if prewarm { "1" } else { "0" }),
        // No delay queue here: the functions refuse to start without one unless
        // the run says it is local.
        ("LIVECHAT_LOCAL", "1"),
    ];
    let mut env: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push(("AWS_LAMBDA_FUNCTION_NAME".into(), name.into()));
    env.push((
        "AWS_LAMBDA_LOG_GROUP_NAME".into(),
        format!("/aws/lambda/{name}"),
    ));
    env
}

/// A function binary, the event file of its first invocation, and its name.
pub struct Subject {
    /// The binary's name in the release directory.
    pub name: &'static str,
    /// The event (in `events/`) of its first invocation.
    pub event: &'static str,
}

/// The five functions and the event each gets first.
pub const FUNCTIONS: [Subject; 5] = [
    Subject {
        name: "connect",
        event: "connect-visitor.json",
    },
    Subject {
        name: "card-advance",
        event: "message-start.json",
    },
    Subject {
        name: "agent-message",
        event: "message-default.json",
    },
    Subject {
        name: "route-to-agent",
        event: "sqs-route.json",
    },
    Subject {
        name: "analytics",
        event: "dynamodb-stream.json",
    },
];

/// The release directory holding the binaries: the bench binary's own.
pub fn release_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target/release"))
}

/// Published hello-world cold starts on Lambda: (init ms, memory MB).
pub const PUBLISHED_RUST: (f64, f64) = (14.0, 15.0);
/// The same for Node.js.
pub const PUBLISHED_NODE: (f64, f64) = (125.0, 75.0);

/// A process environment.
type Env = Vec<(String, String)>;

/// Medians over the runs of one configuration.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Median init, ms.
    pub init_ms: f64,
    /// Median peak RSS at init, bytes.
    pub rss: u64,
    /// Median first invocation, ms.
    pub first_invoke_ms: f64,
}

fn summarize(launches: &[Launch]) -> Summary {
    use crate::report::median;
    let inits: Vec<f64> = launches.iter().map(|l| l.init_ms).collect();
    let rss: Vec<f64> = launches.iter().map(|l| l.rss as f64).collect();
    let firsts: Vec<f64> = launches.iter().filter_map(|l| l.first_invoke_ms).collect();
    Summary {
        init_ms: median(&inits),
        rss: median(&rss) as u64,
        first_invoke_ms: median(&firsts),
    }
}

/// What section 1 measured, for the cost section too.
pub struct ColdStart {
    /// Per function: (name, with pre-warm, without pre-warm).
    pub functions: Vec<(&'static str, Summary, Summary)>,
    /// The hello-world reference.
    pub hello: Summary,
}

/// Runs every configuration `runs` times, interleaved so that noise hits all alike.
pub async fn measure(
    repo: &Path,
    endpoint: &str,
    table: &str,
    runs: usize,
    progress: &dyn Fn(String),
) -> Result<ColdStart, String> {
    let dir = release_dir();
    let hello_bin = dir.join("hello-lambda");
    let mut configs: Vec<(String, PathBuf, Env, String)> = vec![(
        "hello-lambda".into(),
        hello_bin,
        function_env("hello-lambda", endpoint, table, true),
        r#"{"hello":"world"}"#.into(),
    )];
    for f in &FUNCTIONS {
        let event = std::fs::read_to_string(repo.join("events").join(f.event))
            .map_err(|e| format!("events/{}: {e}", f.event))?;
        for prewarm in [true, false] {
            configs.push((
                format!("{}{}", f.name, if prewarm { "" } else { " (no pre-warm)" }),
                dir.join(f.name),
                function_env(f.name, endpoint, table, prewarm),
                event.clone(),
            ));
        }
    }
    let tls = TlsEndpoint::new()?;
    let mut results: Vec<Vec<Launch>> = vec![Vec::new(); configs.len()];
    // One discarded round first: seeds the table and warms the page cache.
    for round in 0..=runs {
        progress(format!(
            "cold start: round {round}/{runs} ({} binaries)",
            configs.len()
        ));
        for (i, (name, bin, env, event)) in configs.iter().enumerate() {
            let launch = launch(bin, env, Some(event.clone()), Some(&tls))
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            if round > 0 {
                results[i].push(launch);
            }
        }
    }
    let hello = summarize(&results[0]);
    let functions = FUNCTIONS
        .iter()
        .enumerate()
        .map(|(i, f)| {
            (
                f.name,
                summarize(&results[1 + 2 * i]),
                summarize(&results[2 + 2 * i]),
            )
        })
        .collect();
    Ok(ColdStart { functions, hello })
}
