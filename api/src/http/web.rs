//! The browser side of the HTTP edge: the GraphiQL page at `/`, its assets under
//! `/assets/`, and the security headers every response carries.
//!
//! The page loads nothing from anywhere but this server: React, ReactDOM and
//! GraphiQL are pinned in `api/web/package-lock.json`, vendored into
//! `api/web/vendor/` by `api/web/vendor.sh` (their SHA-256 in
//! `api/web/vendor/SHA256SUMS`) and embedded in the binary here, so the page works
//! on a network without internet access and no third-party script runs where a
//! bearer token is pasted. The page has no inline script or style, so its
//! Content-Security-Policy allows only this origin's scripts and styles.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The Content-Security-Policy of the GraphiQL page: scripts, styles and
/// requests from this origin only (fonts are `data:` URLs inside GraphiQL's CSS).
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The Content-Security-Policy of every other response (JSON, text, assets): it
/// may not run or load anything, nor be framed.
pub const STRICT_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The GraphiQL page.
pub const PAGE: &str = include_str!("../../web/graphiql.html");

/// A file served under `/assets/`.
pub struct Asset {
    /// The name after `/assets/`.
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    /// A vendored file (its name carries its version): cached for a year.
    /// Our own files are revalidated instead.
    pub immutable: bool,
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every asset, the vendored ones first. To upgrade one: change
/// `api/web/package.json`, `npm install` there, run `api/web/vendor.sh`, and
/// update the names here and in `api/web/graphiql.html`.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "react-18.3.1.production.min.js",
        content_type: JS,
        bytes: include_bytes!("../../web/vendor/react-18.3.1.production.min.js"),
        immutable: true,
    },
    Asset {
        name: "react-dom-18.3.1.production.min.js",
        content_type: JS,
        bytes: include_bytes!("../../web/vendor/react-dom-18.3.1.production.min.js"),
        immutable: true,
    },
    Asset {
        name: "graphiql-3.9.0.min.js",
        content_type: JS,
        bytes: include_bytes!("../../web/vendor/graphiql-3.9.0.min.js"),
        immutable: true,
    },
    Asset {
        name: "graphiql-3.9.0.min.css",
        content_type: CSS,
        bytes: include_bytes!("../../web/vendor/graphiql-3.9.0.min.css"),
        immutable: true,
    },
    Asset {
        name: "graphiql-start.js",
        content_type: JS,
        bytes: include_bytes!("../../web/graphiql-start.js"),
        immutable: false,
    },
    Asset {
        name: "graphiql-page.css",
        content_type: CSS,
        bytes: include_bytes!("../../web/graphiql-page.css"),
        immutable: false,
    },
];

/// `GET /`: the GraphiQL page, with its own Content-Security-Policy.
pub async fn page() -> Response {
    let mut r = PAGE.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `GET /assets/{name}`: an embedded asset, or 404.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some(a) = ASSETS.iter().find(|a| a.name == name) else {
        return not_found().await;
    };
    let mut r = a.bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if a.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    r
}

/// Any path the router does not know.
pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found: the API is at /graphql, GraphiQL at /\n",
    )
        .into_response()
}

/// The security headers of every response (one layer over the whole router). A
/// header the handler set already (the page's CSP, an asset's cache lifetime) is
/// kept; everything else — GraphQL answers above all, which may carry personal
/// data — is `Cache-Control: no-store`. tower's `MapResponseLayer` calls its inner
/// service directly (`axum::middleware::map_response` cloned the inner stack for
/// every request, a few per cent of a small request).
pub fn security_headers() -> tower::util::MapResponseLayer<fn(Response) -> Response> {
    tower::util::MapResponseLayer::new(|mut response: Response| {
        add_security_headers(response.headers_mut());
        response
    })
}

fn add_security_headers(h: &mut HeaderMap) {
    const HEADERS: [(HeaderName, &str); 7] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, STRICT_CSP),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in HEADERS {
        h.entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// The `src` and `href` values in `html`.
    fn references(html: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for attr in ["src=\"", "href=\""] {
            let mut rest = html;
            while let Some(i) = rest.find(attr) {
                rest = &rest[i + attr.len()..];
                let end = rest.find('"').expect("a closed attribute");
                out.push(&rest[..end]);
                rest = &rest[end..];
            }
        }
        out
    }

    /// The page names only assets this server embeds — no CDN, no other origin, no
    /// inline script or style (which the page's CSP would block) — and every
    /// embedded asset is used by it.
    #[test]
    fn the_page_references_only_assets_this_server_embeds() {
        let lower = PAGE.to_ascii_lowercase();
        for forbidden in ["http://", "https://", "//unpkg", "cdn", "<style", " style="] {
            assert!(
                !lower.contains(forbidden),
                "the page contains {forbidden:?}"
            );
        }
        assert_eq!(
            lower.matches("<script").count(),
            lower.matches("<script src=\"/assets/").count(),
            "every script is an /assets/ file"
        );
        let refs: Vec<&str> = references(PAGE)
            .into_iter()
            .filter(|r| *r != "data:,") // the empty favicon: no request at all
            .collect();
        assert_eq!(refs.len(), ASSETS.len(), "{refs:?}");
        for r in refs {
            let name = r
                .strip_prefix("/assets/")
                .unwrap_or_else(|| panic!("{r} is not under /assets/"));
            assert!(ASSETS.iter().any(|a| a.name == name), "{r} is not embedded");
        }
        for a in ASSETS.iter().filter(|a| !a.immutable) {
            let text = std::str::from_utf8(a.bytes).unwrap();
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{} names another origin",
                a.name
            );
        }
    }

    /// The embedded vendored files are byte for byte the ones `vendor.sh` copied
    /// from the lockfile's packages (their SHA-256 in `vendor/SHA256SUMS`), and
    /// their names carry the versions `package-lock.json` pins.
    #[test]
    fn the_embedded_vendored_files_match_their_checksums_and_the_lockfile_versions() {
        let sums = include_str!("../../web/vendor/SHA256SUMS");
        let lock: serde_json::Value =
            serde_json::from_str(include_str!("../../web/package-lock.json")).unwrap();
        let version = |package: &str| {
            lock["packages"][format!("node_modules/{package}")]["version"]
                .as_str()
                .unwrap_or_else(|| panic!("{package} is not in package-lock.json"))
                .to_string()
        };
        let vendored: Vec<&Asset> = ASSETS.iter().filter(|a| a.immutable).collect();
        assert_eq!(vendored.len(), sums.lines().count(), "{sums}");
        for a in vendored {
            let hex: String = Sha256::digest(a.bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let line = format!("{hex}  {}", a.name);
            assert!(
                sums.lines().any(|l| l == line),
                "{} does not match vendor/SHA256SUMS",
                a.name
            );
        }
        for (package, name) in [
            (
                "react",
                format!("react-{}.production.min.js", version("react")),
            ),
            (
                "react-dom",
                format!("react-dom-{}.production.min.js", version("react-dom")),
            ),
            (
                "graphiql",
                format!("graphiql-{}.min.js", version("graphiql")),
            ),
            (
                "graphiql",
                format!("graphiql-{}.min.css", version("graphiql")),
            ),
        ] {
            assert!(
                ASSETS.iter().any(|a| a.name == name),
                "{name} ({package} as the lockfile pins it) is not embedded"
            );
        }
    }

    /// The layer adds every security header, keeps what a handler set, and makes
    /// anything that set no cache lifetime `no-store`.
    #[test]
    fn the_security_headers_are_added_and_a_handlers_own_values_are_kept() {
        let mut h = HeaderMap::new();
        add_security_headers(&mut h);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["content-security-policy"], STRICT_CSP);
        assert_eq!(h["cross-origin-opener-policy"], "same-origin");
        assert_eq!(h["cross-origin-resource-policy"], "same-origin");
        assert_eq!(h["cache-control"], "no-store");

        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        add_security_headers(&mut h);
        assert_eq!(h["content-security-policy"], PAGE_CSP);
        assert_eq!(h["cache-control"], "no-cache");
        assert_eq!(h.get_all("content-security-policy").iter().count(), 1);
    }
}
