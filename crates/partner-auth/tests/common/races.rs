//! Callers racing a `TokenSource`, shared by the tests with and without a store.

#![allow(dead_code)] // each test file uses some

use std::time::Duration;

use partner_auth::{AccessToken, TokenSource};

/// `rounds` times: a token from `source`, then `callers` tasks at once, each calling
/// `invalidate` on it and then `token()`. Asserts that exactly one invalidation per round
/// dropped the token; returns how many `token()` calls got the invalidated token back
/// (compared by secret, so a copy read from a store counts too).
pub async fn invalidate_rounds(source: &TokenSource, rounds: usize, callers: usize) -> usize {
    let mut got_old = 0;
    for _ in 0..rounds {
        let old = source.token().await.unwrap();
        let (dropped, stale) = invalidate_round(source, &old, callers).await;
        assert_eq!(dropped, 1, "exactly one invalidate drops the token");
        got_old += stale;
    }
    got_old
}

/// One round of [`invalidate_rounds`]: how many invalidations dropped `old`, and how many
/// `token()` calls got it back.
async fn invalidate_round(
    source: &TokenSource,
    old: &AccessToken,
    callers: usize,
) -> (usize, usize) {
    let calls: Vec<_> = (0..callers)
        .map(|_| {
            let (source, old) = (source.clone(), old.clone());
            tokio::spawn(async move {
                let dropped = source.invalidate(&old);
                let next = source.token().await.unwrap();
                (dropped, next.expose_secret() == old.expose_secret())
            })
        })
        .collect();
    let (mut dropped, mut got_old) = (0, 0);
    for call in calls {
        let (did_drop, was_old) = call.await.unwrap();
        dropped += usize::from(did_drop);
        got_old += usize::from(was_old);
    }
    (dropped, got_old)
}

/// `calls` sequential `token()` calls, each given up after `deadline`, with `pause`
/// between them: how many got a token in time.
pub async fn impatient_calls(
    source: &TokenSource,
    calls: usize,
    deadline: Duration,
    pause: Duration,
) -> usize {
    let mut answered = 0;
    for _ in 0..calls {
        let call = tokio::time::timeout(deadline, source.token()).await;
        answered += usize::from(matches!(call, Ok(Ok(_))));
        tokio::time::sleep(pause).await;
    }
    answered
}
