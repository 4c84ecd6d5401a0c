//! Logs each failed request once, at the edge, from the `ApiError` its response carries (never
//! the request body, never a key).
//!
//! A tower layer of its own rather than `axum::middleware::from_fn`: that boxed every request's
//! future and a clone of the inner service, and copied the path into a `String` up front, for a
//! line logged only on errors. Here the method and URI are kept by reference count and the
//! future is the inner one, wrapped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::http::{Method, Request, Uri};
use axum::response::Response;
use tower::{Layer, Service};

use crate::error::ApiError;

/// Wraps a service so that its error responses are logged.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogErrorsLayer;

impl<S> Layer<S> for LogErrorsLayer {
    type Service = LogErrors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LogErrors { inner }
    }
}

/// The service `LogErrorsLayer` makes.
#[derive(Debug, Clone)]
pub struct LogErrors<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for LogErrors<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = LogErrorsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = request.method().clone();
        let uri = request.uri().clone();
        LogErrorsFuture { inner: self.inner.call(request), method, uri }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's future, and what to name the request by if it fails.
    pub struct LogErrorsFuture<F> {
        #[pin]
        inner: F,
        method: Method,
        uri: Uri,
    }
}

impl<F, E> Future for LogErrorsFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            log(this.method, this.uri, response);
        }
        Poll::Ready(result)
    }
}

fn log(method: &Method, uri: &Uri, response: &Response) {
    let Some(err) = response.extensions().get::<Arc<ApiError>>() else { return };
    let path = uri.path();
    if err.status().is_server_error() {
        tracing::warn!(%method, %path, status = err.status().as_u16(), message = %err.message, "request failed");
    } else {
        tracing::debug!(%method, %path, status = err.status().as_u16(), message = %err.message, "request refused");
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use axum::response::IntoResponse;
    use tower::ServiceExt;

    use super::*;
    use crate::error::ErrorKind;

    /// Log lines written while `run` ran, at debug level and up.
    async fn logged(error: Option<ApiError>, uri: &str) -> String {
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let service = LogErrorsLayer.layer(tower::service_fn(move |_: Request<()>| {
            let error = error.clone();
            async move {
                Ok::<_, std::convert::Infallible>(match error {
                    Some(err) => err.into_response(),
                    None => "fine".into_response(),
                })
            }
        }));
        let request = Request::post(uri).body(()).unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert!(response.status().is_success() || response.extensions().get::<Arc<ApiError>>().is_some());
        String::from_utf8(sink.0.lock().unwrap().clone()).unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn server_errors_are_warnings_naming_method_and_path_but_not_the_query() {
        let err = ApiError::new(ErrorKind::UpstreamFailed, "upstream request failed: boom");
        let line = logged(Some(err), "/v1beta/models/m:generateContent?key=lr_live_secret").await;
        assert!(line.contains("WARN"), "{line}");
        assert!(line.contains("request failed"), "{line}");
        assert!(line.contains("method=POST"), "{line}");
        assert!(line.contains("path=/v1beta/models/m:generateContent"), "{line}");
        assert!(line.contains("status=502"), "{line}");
        assert!(line.contains("upstream request failed: boom"), "{line}");
        assert!(!line.contains("lr_live_secret"), "the query (which may hold a key) is not logged: {line}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn refusals_are_debug_lines_and_successes_are_not_logged() {
        let line = logged(Some(ApiError::not_found("no such model")), "/v1/chat/completions").await;
        assert!(line.contains("DEBUG") && line.contains("request refused") && line.contains("status=404"), "{line}");
        assert_eq!(logged(None, "/v1/chat/completions").await, "");
    }
}
