//! [`AuthMiddleware`]: attaches the token to API requests made with `reqwest-middleware`,
//! and recovers once from a 401.

use http::Extensions;
use reqwest::header::AUTHORIZATION;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};

use crate::{AccessToken, TokenSource};

/// A `reqwest-middleware` middleware that sends every request with
/// `Authorization: Bearer <token>` from a [`TokenSource`].
///
/// On a 401 it invalidates that token and sends the request once more with a fresh one,
/// when the request can be cloned (a streaming body cannot); a second 401 is returned to
/// the caller. A failure to get a token is returned as a middleware error wrapping the
/// [`Error`](crate::Error), which [`token_error`] gets back.
#[derive(Clone, Debug)]
pub struct AuthMiddleware {
    source: TokenSource,
}

impl AuthMiddleware {
    /// A middleware taking tokens from `source`.
    pub fn new(source: TokenSource) -> Self {
        Self { source }
    }

    async fn authorize(&self, request: &mut Request) -> reqwest_middleware::Result<AccessToken> {
        let token = self.source.token().await.map_err(to_middleware)?;
        let header = token.authorization_header().map_err(to_middleware)?;
        request.headers_mut().insert(AUTHORIZATION, header);
        Ok(token)
    }
}

#[async_trait::async_trait]
impl Middleware for AuthMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let retry = request.try_clone();
        let token = self.authorize(&mut request).await?;
        let response = next.clone().run(request, extensions).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Some(mut retry) = retry else {
            return Ok(response);
        };
        self.source.invalidate(&token);
        let fresh = self.authorize(&mut retry).await?;
        tracing::info!(
            provider = %self.source.client().provider(),
            same_token = fresh.same_as(&token),
            "API answered 401; retrying once with a fresh token"
        );
        next.run(retry, extensions).await
    }
}

fn to_middleware(error: crate::Error) -> reqwest_middleware::Error {
    reqwest_middleware::Error::Middleware(anyhow::Error::new(error))
}

/// The token error behind a middleware error, if that is what it is.
pub fn token_error(error: &reqwest_middleware::Error) -> Option<&crate::Error> {
    match error {
        reqwest_middleware::Error::Middleware(inner) => inner.downcast_ref(),
        reqwest_middleware::Error::Reqwest(_) => None,
    }
}
