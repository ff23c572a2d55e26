//! search-service: a small in-memory inverted index (a stand-in for a search
//! engine). Words are lower-cased runs of letters and digits.
//!
//!   PUT /v1/documents/{id}  {"text": "..."}   index (or re-index) a document
//!   GET /v1/search?q=words                    -> ids of documents holding every word

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use nova_runtime::axum::extract::{Path, Query, State};
use nova_runtime::axum::routing::{get, put};
use nova_runtime::axum::{Json, Router};
use nova_runtime::{ApiError, ApiResult, Dependency, Service};
use serde::Deserialize;
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    Service::new("search-service", 50057, 8086)
        .uses(&[Dependency::Redis, Dependency::Kafka])
        .routes(|_deps| {
            Router::new()
                .route("/v1/documents/{id}", put(index))
                .route("/v1/search", get(search))
                .with_state(Arc::new(RwLock::new(Index::default())))
        })
        .run()
        .await
}

#[derive(Default)]
struct Index {
    words: HashMap<String, BTreeSet<String>>,
    docs: HashMap<String, BTreeSet<String>>,
}

fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl Index {
    fn put(&mut self, id: &str, text: &str) -> usize {
        if let Some(old) = self.docs.remove(id) {
            for w in old {
                if let Some(ids) = self.words.get_mut(&w) {
                    ids.remove(id);
                    if ids.is_empty() {
                        self.words.remove(&w);
                    }
                }
            }
        }
        let ws = words(text);
        for w in &ws {
            self.words
                .entry(w.clone())
                .or_default()
                .insert(id.to_string());
        }
        let n = ws.len();
        self.docs.insert(id.to_string(), ws);
        n
    }

    fn search(&self, q: &str) -> Vec<String> {
        let mut hits: Option<BTreeSet<String>> = None;
        for w in words(q) {
            let ids = self.words.get(&w).cloned().unwrap_or_default();
            hits = Some(match hits {
                None => ids,
                Some(h) => h.intersection(&ids).cloned().collect(),
            });
        }
        hits.unwrap_or_default().into_iter().collect()
    }
}

type Shared = Arc<RwLock<Index>>;

#[derive(Deserialize)]
struct Doc {
    text: String,
}

async fn index(
    State(ix): State<Shared>,
    Path(id): Path<String>,
    Json(doc): Json<Doc>,
) -> ApiResult<Json<Value>> {
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::bad_request("id must be 1 to 128 characters"));
    }
    let n = ix.write().expect("index lock").put(&id, &doc.text);
    Ok(Json(json!({ "id": id, "words": n })))
}

#[derive(Deserialize)]
struct Q {
    q: String,
}

async fn search(State(ix): State<Shared>, Query(q): Query<Q>) -> Json<Value> {
    let ids = ix.read().expect("index lock").search(&q.q);
    Json(json!({ "q": q.q, "ids": ids }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_search() {
        let mut ix = Index::default();
        ix.put("a", "Rust services, on Docker!");
        ix.put("b", "docker compose");
        assert_eq!(ix.search("docker"), ["a", "b"]);
        assert_eq!(ix.search("DOCKER rust"), ["a"]);
        assert!(ix.search("nothing").is_empty());
        ix.put("a", "gone");
        assert_eq!(ix.search("docker"), ["b"]);
        assert_eq!(ix.search("gone"), ["a"]);
        assert!(ix.search("").is_empty());
    }
}
