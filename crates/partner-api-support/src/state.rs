//! The state a generated `Client` carries for its request hooks.

use crate::{BasicCredentials, DEFAULT_MAX_RESPONSE_BYTES, limit_response};

/// What a generated client's request hooks need: credentials for operations secured with
/// HTTP Basic, and the largest response body to accept.
///
/// Generated crates keep it as progenitor's "inner type" and expose builder methods on their
/// `Client`; applications rarely build one themselves.
#[derive(Clone, Debug)]
pub struct ClientState {
    basic: Option<BasicCredentials>,
    max_response_bytes: u64,
}

impl Default for ClientState {
    fn default() -> Self {
        Self {
            basic: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl ClientState {
    /// Sends `credentials` as `Authorization: Basic` on operations that require HTTP Basic.
    pub fn with_basic_credentials(mut self, credentials: BasicCredentials) -> Self {
        self.basic = Some(credentials);
        self
    }

    /// Refuses response bodies larger than `max_bytes` (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]).
    pub fn with_max_response_bytes(mut self, max_bytes: u64) -> Self {
        self.max_response_bytes = max_bytes;
        self
    }

    /// The Basic credentials, if any.
    pub fn basic_credentials(&self) -> Option<&BasicCredentials> {
        self.basic.as_ref()
    }

    /// The response size limit in bytes.
    pub fn max_response_bytes(&self) -> u64 {
        self.max_response_bytes
    }

    /// The generated `ClientHooks::pre`: adds `Authorization: Basic` to a request for one of
    /// `basic_operations`, or refuses to send it when no credentials were given.
    pub fn prepare(
        &self,
        request: &mut reqwest::Request,
        operation_id: &str,
        basic_operations: &[&str],
    ) -> Result<(), String> {
        if !basic_operations.contains(&operation_id) {
            return Ok(());
        }
        let credentials = self.basic.as_ref().ok_or_else(|| {
            format!(
                "operation `{operation_id}` requires HTTP Basic client credentials; \
                 give them with `Client::with_credentials`"
            )
        })?;
        request.headers_mut().insert(
            reqwest::header::AUTHORIZATION,
            credentials.authorization_header(),
        );
        Ok(())
    }

    /// The generated `ClientHooks::exec`: sends `request` and limits the response body.
    pub async fn execute(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        let response = client.execute(request).await?;
        Ok(limit_response(response, self.max_response_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> reqwest::Request {
        reqwest::Request::new(
            reqwest::Method::POST,
            "http://127.0.0.1/token".parse().unwrap(),
        )
    }

    #[test]
    fn basic_operations_get_the_header_and_others_do_not() {
        let state =
            ClientState::default().with_basic_credentials(BasicCredentials::new("id", "secret1"));
        let mut secured = request();
        state.prepare(&mut secured, "token", &["token"]).unwrap();
        assert!(secured.headers()["authorization"].is_sensitive());

        let mut open = request();
        state.prepare(&mut open, "other", &["token"]).unwrap();
        assert!(open.headers().get("authorization").is_none());
    }

    #[test]
    fn missing_credentials_stop_a_basic_operation() {
        let err = ClientState::default()
            .prepare(&mut request(), "token", &["token"])
            .unwrap_err();
        assert!(err.contains("with_credentials"), "{err}");
    }
}
