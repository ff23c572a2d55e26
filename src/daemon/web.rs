//! The web UI's side of the daemon: a TCP listener on 127.0.0.1, the per-daemon token that guards
//! it, and the static page (`ui/`, embedded in the binary at build time).
//!
//! Owns: making the token (OS RNG, 256 bits) and writing it owner-only into the project's state
//! dir; the checks in front of every request on the TCP listener; the static files. Must not talk
//! to Docker or keep service state: the page uses the part of the API it needs
//! ([`super::api::web_router`]: read-only status, events, logs, and restart / rebuild / stop /
//! start of a service of the loaded stack), mounted here behind the checks. `up`, `down`,
//! `shutdown` and anything that names a file or a command exist on the Unix socket only.
//!
//! The checks:
//! - every request: the `Host` must be this machine's loopback with our port (a page elsewhere
//!   that rebinds its own name to 127.0.0.1 cannot reach us under that name);
//! - the API: the token as `Authorization: Bearer …`, nowhere else (a cookie would go to every
//!   server on 127.0.0.1, since cookies ignore ports; a query string ends up in logs and history);
//!   a request another origin started (its `Origin` or `Sec-Fetch-Site` says so) is refused.
//!   The page keeps the token in sessionStorage, having read it from the address's fragment,
//!   which browsers never send to a server.
//! - the page and its assets need no token: they hold no data.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::protocol::{ApiError, ErrorKind};

/// Pins the web UI's port (default: an ephemeral one chosen by the OS).
pub const PORT_ENV: &str = "NOVADEV_UI_PORT";

const INDEX_HTML: &str = include_str!("../../ui/index.html");
const APP_JS: &str = include_str!("../../ui/app.js");
const STYLE_CSS: &str = include_str!("../../ui/style.css");

/// The page's own policy: its scripts and styles come from this origin only, it talks to this
/// origin only, and no other site may frame it.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("the OS gave no random bytes for the web UI token: {0}")]
    Random(getrandom::Error),
    #[error("{PORT_ENV}=`{0}` is not a port number (1-65535, or 0 for any free port)")]
    BadPort(String),
    #[error("cannot serve the web UI on 127.0.0.1:{port}: {source}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the web UI token to {path}: {source}")]
    TokenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The secret that opens the web UI. Only its digest is compared, in constant time.
pub struct Token {
    secret: String,
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// 32 bytes from the OS RNG, hex-encoded (URL- and cookie-safe).
    pub fn generate() -> Result<Token, WebError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(WebError::Random)?;
        Ok(Token::from_secret(hex::encode(bytes)))
    }

    fn from_secret(secret: String) -> Token {
        let digest = Sha256::digest(secret.as_bytes()).into();
        Token { secret, digest }
    }

    pub fn as_str(&self) -> &str {
        &self.secret
    }

    /// Whether `candidate` is this token. Both sides are hashed first, so the comparison takes
    /// the same time whatever the candidate's length or content.
    pub fn matches(&self, candidate: &str) -> bool {
        let theirs: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        let difference = self
            .digest
            .iter()
            .zip(theirs.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        // Keeps the optimizer from turning the fold into an early-exit comparison.
        std::hint::black_box(difference) == 0
    }

    /// Write the token to `path`, readable and writable by the owner only, all or nothing (a full
    /// disk leaves no empty token behind). A file left by an earlier daemon is replaced, never
    /// reused.
    pub fn write_to(&self, path: &Path) -> Result<(), WebError> {
        crate::paths::write_atomic(path, self.secret.as_bytes(), 0o600).map_err(|source| {
            WebError::TokenFile {
                path: path.to_path_buf(),
                source,
            }
        })
    }
}

/// The token a running daemon wrote to `path`.
pub fn read_token(path: &Path) -> std::io::Result<String> {
    Ok(std::fs::read_to_string(path)?.trim().to_string())
}

/// The port asked for in [`PORT_ENV`] (0 when unset: any free port).
pub fn port_from_env() -> Result<u16, WebError> {
    match std::env::var(PORT_ENV) {
        Ok(value) if value.trim().is_empty() => Ok(0),
        Ok(value) => value.trim().parse().map_err(|_| WebError::BadPort(value)),
        Err(_) => Ok(0),
    }
}

/// A bound web UI listener and the token that guards it.
pub struct WebUi {
    pub listener: TcpListener,
    pub token: Token,
    pub port: u16,
}

impl WebUi {
    /// Bind 127.0.0.1:`port` (0 = any free port), make a fresh token and write it to
    /// `token_file`.
    pub async fn bind(port: u16, token_file: &Path) -> Result<WebUi, WebError> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| WebError::Bind { port, source })?;
        let port = listener
            .local_addr()
            .map_err(|source| WebError::Bind { port, source })?
            .port();
        let token = Token::generate()?;
        token.write_to(token_file)?;
        Ok(WebUi {
            listener,
            token,
            port,
        })
    }

    /// The page's address, without the token.
    pub fn url(&self) -> String {
        base_url(self.port)
    }
}

pub fn base_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/")
}

/// The address to open: the page with the token in the fragment, which the browser keeps to
/// itself (the page moves it into sessionStorage).
pub fn url_with_token(base: &str, token: &str) -> String {
    format!("{base}#token={token}")
}

/// A page that sends the browser on to the web UI with its token, for `novadev ui --open`: the
/// browser is given this file's path, so the token is never on a process's command line. The
/// file is written owner-only beside the token itself.
pub fn write_opener(path: &Path, url_with_token: &str) -> std::io::Result<()> {
    let html = format!(
        "<!doctype html><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\">\
         <meta http-equiv=\"refresh\" content=\"0;url={url_with_token}\"><title>novadev</title>"
    );
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(html.as_bytes())
}

struct Guard {
    token: Token,
    port: u16,
}

/// Everything the TCP listener serves: the static page, and `api` behind the token and origin
/// checks.
pub fn router(api: Router, token: Token, port: u16) -> Router {
    let guard = Arc::new(Guard { token, port });
    let api = api.layer(middleware::from_fn_with_state(guard.clone(), check_api));
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/app.js", get(app_js))
        .route("/style.css", get(style_css))
        .merge(api)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(guard, check_host))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let mut response = (
        status,
        axum::Json(ApiError {
            error: message.to_string(),
            kind: ErrorKind::Runtime,
        }),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"novadev\""),
        );
    }
    response
}

/// The bearer token a request presents, if any.
fn bearer(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Only names of this machine's loopback, with our port: a page elsewhere that rebinds its own
/// host name to 127.0.0.1 still cannot reach us under that name.
fn host_is_ours(headers: &HeaderMap, port: u16) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Some((name, host_port)) = host.rsplit_once(':') else {
        return false;
    };
    host_port.parse::<u16>().ok() == Some(port)
        && matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

/// Whether a browser says another origin started this request. `Origin` is sent on every
/// cross-origin request and on same-origin writes; `Sec-Fetch-Site` by every current browser.
/// Neither is sent by scripts (curl), which the token alone admits.
fn foreign_origin(headers: &HeaderMap, port: u16) -> Option<String> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(unreadable)");
        let ours = ["127.0.0.1", "localhost", "[::1]"]
            .iter()
            .any(|name| origin == format!("http://{name}:{port}"));
        if !ours {
            return Some(format!("origin {origin}"));
        }
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("(unreadable)");
        if !matches!(site, "same-origin" | "none") {
            return Some(format!("a {site} request"));
        }
    }
    None
}

async fn check_host(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    if !host_is_ours(request.headers(), guard.port) {
        return with_common_headers(refuse(
            StatusCode::FORBIDDEN,
            "the novadev web UI answers only to 127.0.0.1 and localhost",
        ));
    }
    with_common_headers(next.run(request).await)
}

async fn check_api(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let authorized = bearer(&request).is_some_and(|t| guard.token.matches(t));
    if !authorized {
        let message = if bearer(&request).is_none() {
            "this novadev web UI needs its token (as `Authorization: Bearer …`): open the URL `novadev ui` prints"
        } else {
            "wrong token for this novadev daemon: open the URL `novadev ui` prints"
        };
        return refuse(StatusCode::UNAUTHORIZED, message);
    }
    if let Some(foreign) = foreign_origin(request.headers(), guard.port) {
        return refuse(
            StatusCode::FORBIDDEN,
            &format!("refused: {foreign} is not this web UI's own"),
        );
    }
    next.run(request).await
}

fn with_common_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style_css() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

async fn not_found() -> Response {
    refuse(StatusCode::NOT_FOUND, "no such page")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    const PORT: u16 = 40123;

    fn app() -> (Router, String) {
        let token = Token::generate().unwrap();
        let secret = token.as_str().to_string();
        let api = Router::new().route(
            "/v1/info",
            get(|| async { "info" }).post(|| async { "info" }),
        );
        (router(api, token, PORT), secret)
    }

    fn get_req(uri: &str) -> axum::http::request::Builder {
        Request::builder()
            .uri(uri)
            .header(header::HOST, format!("127.0.0.1:{PORT}"))
    }

    async fn send(app: &Router, request: Request) -> Response {
        app.clone().oneshot(request).await.unwrap()
    }

    async fn body(response: Response) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn tokens_are_long_random_and_distinct() {
        let a = Token::generate().unwrap();
        let b = Token::generate().unwrap();
        assert_eq!(a.as_str().len(), 64, "256 bits, hex");
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.as_str(), b.as_str());
        assert!(a.matches(a.as_str()));
        assert!(!a.matches(b.as_str()));
        assert!(!a.matches(""));
        assert!(!a.matches(&a.as_str()[..63]));
        assert!(!format!("{a:?}").contains(a.as_str()), "Debug hides it");
    }

    #[test]
    fn token_file_is_owner_only_and_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ui-token");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let token = Token::generate().unwrap();
        token.write_to(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_token(&path).unwrap(), token.as_str());
    }

    fn post_req(uri: &str, secret: &str) -> axum::http::request::Builder {
        get_req(uri)
            .method("POST")
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
    }

    #[tokio::test]
    async fn the_api_without_the_bearer_token_is_refused_whatever_else_is_presented() {
        let (app, secret) = app();
        let response = send(&app, get_req("/v1/info").body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(body(response).await.contains("needs its token"));
        // The right token, but where a browser would carry it to other servers: refused.
        for request in [
            get_req(&format!("/v1/info?token={secret}")),
            get_req("/v1/info").header(header::COOKIE, format!("novadev_ui_{PORT}={secret}")),
            get_req("/v1/info").header(header::COOKIE, format!("token={secret}")),
        ] {
            let response = send(&app, request.body(Body::empty()).unwrap()).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        let wrong = get_req("/v1/info")
            .header(header::AUTHORIZATION, "Bearer 0123")
            .body(Body::empty())
            .unwrap();
        let response = send(&app, wrong).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(body(response).await.contains("wrong token"));
    }

    #[tokio::test]
    async fn the_bearer_token_opens_the_api_and_no_cookie_is_ever_set() {
        let (app, secret) = app();
        let response = send(
            &app,
            get_req("/v1/info")
                .header(header::AUTHORIZATION, format!("Bearer {secret}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get(header::SET_COOKIE).is_none());
        assert_eq!(body(response).await, "info");
        let page = send(
            &app,
            get_req(&format!("/?token={secret}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert!(page.headers().get(header::SET_COOKIE).is_none());
    }

    #[tokio::test]
    async fn the_page_and_its_assets_are_served_without_the_token() {
        let (app, _) = app();
        for (path, kind) in [
            ("/", "text/html"),
            ("/index.html", "text/html"),
            ("/app.js", "text/javascript"),
            ("/style.css", "text/css"),
        ] {
            let response = send(&app, get_req(path).body(Body::empty()).unwrap()).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let headers = response.headers();
            assert!(
                headers[header::CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with(kind)
            );
            assert!(
                headers[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .unwrap()
                    .contains("script-src 'self'")
            );
            assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        }
        let response = send(&app, get_req("/nope").body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn requests_started_by_another_origin_are_refused_even_with_the_token() {
        let (app, secret) = app();
        for (name, value) in [
            ("origin", "http://127.0.0.1:8080".to_string()),
            ("origin", format!("http://evil.example:{PORT}")),
            ("origin", "null".to_string()),
            ("sec-fetch-site", "same-site".to_string()),
            ("sec-fetch-site", "cross-site".to_string()),
        ] {
            let request = post_req("/v1/info", &secret)
                .header(name, value.as_str())
                .body(Body::empty())
                .unwrap();
            let response = send(&app, request).await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        }
        // The page's own requests carry its origin and same-origin: let in.
        let own = get_req("/v1/info")
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .header(header::ORIGIN, format!("http://localhost:{PORT}"))
            .header("sec-fetch-site", "same-origin")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, own).await.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_foreign_host_name_is_refused_even_with_the_token() {
        let (app, secret) = app();
        for host in [format!("evil.example:{PORT}"), "localhost:1".to_string()] {
            let request = Request::builder()
                .uri("/v1/info")
                .header(header::HOST, host)
                .header(header::AUTHORIZATION, format!("Bearer {secret}"))
                .body(Body::empty())
                .unwrap();
            assert_eq!(send(&app, request).await.status(), StatusCode::FORBIDDEN);
        }
        let page = Request::builder()
            .uri("/")
            .header(header::HOST, format!("evil.example:{PORT}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, page).await.status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn the_opener_page_forwards_with_the_token_in_the_fragment_and_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("open-ui.html");
        let url = url_with_token(&base_url(4242), "abc123");
        assert_eq!(url, "http://127.0.0.1:4242/#token=abc123");
        write_opener(&path, &url).unwrap();
        write_opener(&path, &url).unwrap();
        let html = std::fs::read_to_string(&path).unwrap();
        assert!(
            html.contains("url=http://127.0.0.1:4242/#token=abc123"),
            "{html}"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn the_page_links_its_assets_and_no_remote_ones() {
        assert!(INDEX_HTML.contains("src=\"app.js\""));
        assert!(INDEX_HTML.contains("href=\"style.css\""));
        for text in [INDEX_HTML, APP_JS, STYLE_CSS] {
            assert!(!text.contains("http://") && !text.contains("https://"));
        }
    }
}
