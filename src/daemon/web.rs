//! The web UI's side of the daemon: a TCP listener on 127.0.0.1, the per-daemon token that guards
//! it, and the static page (`ui/`, embedded in the binary at build time).
//!
//! Owns: making the token (OS RNG, 256 bits) and writing it owner-only into the project's state
//! dir; the check in front of *every* request on the TCP listener (page, scripts, API, SSE alike);
//! the static files. Must not talk to Docker or keep service state: the page uses the same API
//! routes as the CLI ([`super::api::router`]), mounted here behind the check.
//!
//! A request is let in when it presents the token as `?token=…` (what the printed URL carries and
//! what works for `EventSource`, which cannot send headers), as the cookie this module sets on
//! the first authenticated page load (HttpOnly, SameSite=Strict, named per port because cookies
//! do not tell ports apart), or as `Authorization: Bearer …` for scripts. Anything else gets 401.
//! The page itself, loaded with `?token=`, is answered with a redirect to `/` that sets the cookie,
//! so the token does not stay in the address bar or the history.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use super::api::ApiError;

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

    /// Write the token to `path`, readable and writable by the owner only. A file left by an
    /// earlier daemon is replaced, never reused.
    pub fn write_to(&self, path: &Path) -> Result<(), WebError> {
        let failed = |source| WebError::TokenFile {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(e)),
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(failed)?;
        file.write_all(self.secret.as_bytes()).map_err(failed)
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

/// The address to open: the page with the token.
pub fn url_with_token(base: &str, token: &str) -> String {
    format!("{base}?token={token}")
}

struct Guard {
    token: Token,
    port: u16,
    cookie: String,
}

/// Everything the TCP listener serves: the static page and `api`, all behind the token check.
pub fn router(api: Router, token: Token, port: u16) -> Router {
    let guard = Arc::new(Guard {
        token,
        port,
        cookie: format!("novadev_ui_{port}"),
    });
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/app.js", get(app_js))
        .route("/style.css", get(style_css))
        .merge(api)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(guard, check))
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let mut response = (
        status,
        axum::Json(ApiError {
            error: message.to_string(),
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

/// What a request presents as the token, wherever it carries it.
fn presented<'a>(request: &'a Request, cookie_name: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    if let Some(query) = request.uri().query() {
        found.extend(
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .filter(|(key, _)| *key == "token")
                .map(|(_, value)| value),
        );
    }
    for value in request.headers().get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        found.extend(
            value
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .filter(|(name, _)| *name == cookie_name)
                .map(|(_, value)| value),
        );
    }
    if let Some(bearer) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        found.push(bearer.trim());
    }
    found
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

fn is_page(request: &Request) -> bool {
    request.method() == Method::GET && matches!(request.uri().path(), "/" | "/index.html")
}

async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    if !host_is_ours(request.headers(), guard.port) {
        return refuse(
            StatusCode::FORBIDDEN,
            "the novadev web UI answers only to 127.0.0.1 and localhost",
        );
    }
    let tokens = presented(&request, &guard.cookie);
    // Every presented value is compared: a stale bookmark beside a fresh cookie still gets in.
    let authorized = tokens
        .iter()
        .fold(false, |ok, t| guard.token.matches(t) | ok);
    if !authorized {
        let message = if tokens.is_empty() {
            "this novadev web UI needs its token: open the URL `novadev ui` prints"
        } else {
            "wrong token for this novadev daemon: open the URL `novadev ui` prints"
        };
        return refuse(StatusCode::UNAUTHORIZED, message);
    }
    let query_has_token = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("token=")));
    if is_page(&request) && query_has_token {
        let cookie = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            guard.cookie,
            guard.token.as_str()
        );
        let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
        match HeaderValue::from_str(&cookie) {
            Ok(value) => {
                response.headers_mut().insert(header::SET_COOKIE, value);
                return with_common_headers(response);
            }
            // Cannot happen with a hex token; serve the page rather than fail.
            Err(_) => return with_common_headers(next.run(request).await),
        }
    }
    with_common_headers(next.run(request).await)
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
        let api = Router::new().route("/v1/info", get(|| async { "info" }));
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

    #[tokio::test]
    async fn every_path_without_the_token_is_refused() {
        let (app, _) = app();
        for path in [
            "/",
            "/index.html",
            "/app.js",
            "/style.css",
            "/v1/info",
            "/nope",
        ] {
            let response = send(&app, get_req(path).body(Body::empty()).unwrap()).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        }
        let response = send(
            &app,
            get_req("/v1/info?token=0123").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(body(response).await.contains("wrong token"));
        let other_port_cookie = get_req("/v1/info")
            .header(header::COOKIE, "novadev_ui_1=whatever")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(&app, other_port_cookie).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }

    #[tokio::test]
    async fn the_page_with_its_token_sets_the_cookie_and_drops_the_token_from_the_url() {
        let (app, secret) = app();
        let response = send(
            &app,
            get_req(&format!("/?token={secret}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/");
        let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with(&format!("novadev_ui_{PORT}={secret};")));
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));

        let with_cookie = get_req("/")
            .header(
                header::COOKIE,
                format!("other=1; novadev_ui_{PORT}={secret}"),
            )
            .body(Body::empty())
            .unwrap();
        let response = send(&app, with_cookie).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        assert!(body(response).await.contains("<table"));
    }

    #[tokio::test]
    async fn query_token_and_bearer_open_the_api_and_scripts() {
        let (app, secret) = app();
        let response = send(
            &app,
            get_req(&format!("/v1/info?token={secret}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body(response).await, "info");
        let response = send(
            &app,
            get_req("/app.js")
                .header(header::AUTHORIZATION, format!("Bearer {secret}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        let response = send(
            &app,
            get_req(&format!("/nope?token={secret}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn a_foreign_host_name_is_refused_even_with_the_token() {
        let (app, secret) = app();
        let request = Request::builder()
            .uri(format!("/v1/info?token={secret}"))
            .header(header::HOST, format!("evil.example:{PORT}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, request).await.status(), StatusCode::FORBIDDEN);
        let request = Request::builder()
            .uri(format!("/v1/info?token={secret}"))
            .header(header::HOST, "localhost:1")
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&app, request).await.status(), StatusCode::FORBIDDEN);
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
