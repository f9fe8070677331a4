//! [`FileStore`]: one file per credential in a directory, for processes on one machine.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use fs4::FileExt;

use super::seal::{MAX_SEALED_LEN, from_unix_ms, unix_ms};
use super::{StoreEntry, StoreError, TokenStore};

/// How the temporary files of writes begin.
const TEMP_PREFIX: &str = ".partner-auth-";

/// How many random letters and digits follow [`TEMP_PREFIX`].
const TEMP_RANDOM_LEN: usize = 6;

/// The file stores take turns on to repair a lock file ([`lock_for_repairs`]).
const REPAIR_FILE: &str = ".partner-auth-repair";

/// How often a waiting process looks at the directory again (files send no wake-ups).
const POLL: Duration = Duration::from_millis(20);

/// The longest a change waits for a credential's lock file, which other processes hold
/// only for one change of their own: past it the change fails (a store error), and the
/// thread it ran on is free again.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// The most of a token file that is read: its expiry and the most of a sealed value that
/// is read.
const MAX_TOKEN_FILE: u64 = 8 + MAX_SEALED_LEN as u64;

/// The most of a lease file that is read.
const MAX_LEASE_FILE: u64 = 1 << 10;

/// How far in the future a lease's start may be (the store's processes share one clock).
const LEASE_START_SLACK: Duration = Duration::from_secs(1);

/// A [`TokenStore`] in a directory: what `partner-token` uses so that its runs share one
/// token per credential, and what processes on one machine can share.
///
/// - each credential's sealed token is `<key>.token` (the key is a hash: the file name
///   names nothing), written to a temporary file and renamed over the old one, so a reader
///   sees the old token or the new one, never half of one; the temporary file of a write
///   whose process was killed before the rename is removed by a later token's write (a
///   few each time) or by [`clear`](Self::clear), once a minute old and unlocked (a
///   writer locks its own from before it writes it until it is renamed, and writes again
///   should its file be removed before it locked it);
/// - the lease is `<key>.lease`, holding its owner, when it expires and its time to live,
///   like Redis's `SET NX PX`: a holder that crashed, hung or was dropped loses it when it
///   expires; a lease that does not read as one, or that starts in the future (the clock
///   was set back, or the file was written by hand), is no lease;
/// - files are opened without following symbolic links and without waiting (Unix), and
///   read up to a bound; anything at a token or lease file's path that is not a regular
///   file (a link, a FIFO, a socket, a directory) reads as empty: a token that does not
///   open (a miss, counted as a decrypt failure), or no lease; the next write replaces it
///   (an empty directory is removed first; over one with anything in it, that write
///   fails); at the lock file's path, it is removed and the
///   lock file created in its place (a directory only if empty), one store at a time, with
///   a lock on `.partner-auth-repair` in the directory;
/// - every change to a credential's files happens under an advisory lock
///   (`flock`/`LockFileEx`) on `<key>.lock`, held only for that change, so taking the
///   lease, writing the token and compare-and-delete never interleave between processes;
///   a lock held for over 5 s ([`with_lock_wait`](Self::with_lock_wait)), by a stuck
///   process say, fails the change instead of holding its thread, so dropping the runtime
///   it ran on waits no longer than that; a lease is not taken, nor its lock waited for,
///   once the call that asked for it has gone (dropped, its runtime shut down);
/// - a directory this store creates is `0700`, and its files are `0600` (Unix); an
///   existing one that every user can write to is refused;
/// - each token file starts with its expiry in plain (for a reader to skip an expired
///   file unopened), before the sealed token, which holds the expiry that counts: a
///   header rewritten to the past makes the entry an expired one (a miss, not counted as
///   a decrypt failure), one rewritten to the future changes nothing.
///
/// Waiters look at the lease again every 20 ms (a file system has no wake-ups).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let sandbox = partner_sandbox::Sandbox::start().await?;
/// # let endpoint = sandbox.endpoint(partner_auth::Provider::Dinie);
/// # let client = partner_auth::Client::builder(partner_auth::Provider::Dinie)
/// #     .base_url(&endpoint.base_url)
/// #     .credentials(partner_auth::Credentials::new(endpoint.client_id, endpoint.client_secret))
/// #     .build()?;
/// # let dir = tempfile::tempdir()?;
/// use std::sync::Arc;
/// use std::time::Duration;
/// use partner_auth::{TokenSource, store::{FileStore, StorePolicy}};
///
/// // A disk slower than the operation timeout (500 ms by default) means a fetch of its
/// // own; this one waits for a loaded machine's disk, and for other processes' changes.
/// let store = FileStore::new(dir.path().join("tokens"))? // or FileStore::in_user_cache()
///     .with_lock_wait(Duration::from_secs(30));
/// let store = Arc::new(store);
/// let policy = StorePolicy::default().with_operation_timeout(Duration::from_secs(30));
/// let run = |client| {
///     TokenSource::builder(client).store(store.clone()).store_policy(policy.clone()).build()
/// };
/// let one_run = run(client.clone())?;
/// let token = one_run.token().await?;
/// drop(one_run);
/// let next_run = run(client)?;
/// assert_eq!(next_run.token().await?.expose_secret(), token.expose_secret());
/// assert_eq!(next_run.stats().token_requests, 0);
/// assert_eq!(store.clear()?, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct FileStore {
    dir: PathBuf,
    lock_wait: Duration,
}

impl FileStore {
    /// A store in `dir`, created (with its parents) if missing, `0700` where this creates
    /// it. An existing directory is used as it is, its permissions unchanged, but not one
    /// every user can write to (Unix): anyone could plant a lease there, or delete tokens.
    /// Its files are created `0600`, readable by the user who wrote them only: the
    /// processes of one user share tokens, and users who share a directory do not (one
    /// user's entries are unreadable to another, whose reads of them fail as a store
    /// outage would; found by review: this named a directory a group shares as a use). Whoever can write to the directory (its owner, a group that shares it) can
    /// do that too: not read a token, but turn the sharing of a credential off, each
    /// process then fetching its own, or plant a lease that makes each miss wait as long
    /// as for a stuck holder (the lease's time to live and the retry deadline: 45 s by
    /// default) before it fetches on its own (found by review: this said it could not).
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        let not_a_directory = |dir: &Path| {
            io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            )
        };
        if let Err(e) = create_private_dir(&dir) {
            // What `create_dir_all` says of a file, or a link to one, where the directory
            // goes: "File exists" (found by review: the error said no more).
            if e.kind() == io::ErrorKind::AlreadyExists && !dir.is_dir() {
                return Err(not_a_directory(&dir));
            }
            return Err(e);
        }
        let metadata = fs::metadata(&dir)?;
        if !metadata.is_dir() {
            return Err(not_a_directory(&dir));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            if metadata.permissions().mode() & 0o002 != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{} can be written by every user: give the tokens a directory of their \
                         own (one this store creates is 0700)",
                        dir.display()
                    ),
                ));
            }
        }
        Ok(Self {
            dir,
            lock_wait: LOCK_WAIT,
        })
    }

    /// The longest a change waits for a credential's lock file (default 5 s), which other
    /// processes hold for one change of their own: past it the change fails (a store
    /// error) and its thread is free again, so dropping the runtime it ran on waits no
    /// longer. Worth raising with the operation timeout
    /// ([`StorePolicy::with_operation_timeout`](super::StorePolicy::with_operation_timeout))
    /// where many processes change the same files on a slow disk.
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// A store in the user's cache directory: [`default_dir`](Self::default_dir).
    pub fn in_user_cache() -> io::Result<Self> {
        let dir = Self::default_dir().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no cache directory for this user (set XDG_CACHE_HOME or HOME)",
            )
        })?;
        Self::new(dir)
    }

    /// `partner-auth/tokens` in the user's cache directory: `$XDG_CACHE_HOME` where it is an
    /// absolute path, on every platform (found by review: this said so of Linux alone), else
    /// `~/.cache` on Linux, `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(dirs::cache_dir)?;
        Some(base.join("partner-auth").join("tokens"))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes every stored entry, lease and lock file, and the temporary file of a write
    /// that never finished (its process killed between the write and the rename) once it
    /// is a minute old and no writer keeps it locked (found by review: they were left for
    /// good; each token written sweeps a few of them too); how many entries it removed
    /// (tokens, and failed requests kept for their cool-down).
    ///
    /// A lock file it removes under its lock, and one that another process holds (in the
    /// moment it changes the credential's files, or stopped there) it leaves: removed, a
    /// process started meanwhile would create another and change the same files at once
    /// (found by review).
    ///
    /// What it cannot remove (a directory with something in it where a file goes, say) it
    /// leaves, and goes on with the rest: the error, once it has gone through the
    /// directory, names the first such file (found by review: it stopped there, leaving
    /// the entries after it, and named none).
    pub fn clear(&self) -> io::Result<usize> {
        let mut removed = 0;
        let mut first_error: Option<io::Error> = None;
        let mut failed = 0usize;
        let mut fail = |path: &Path, error: io::Error| {
            failed += 1;
            if first_error.is_none() {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                first_error = Some(io::Error::new(
                    error.kind(),
                    format!("could not remove {name}: {error}"),
                ));
            }
        };
        for entry in fs::read_dir(&self.dir)? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if is_temporary_name(name) {
                if let Err(e) = remove_if_abandoned(&path, name) {
                    fail(&path, e);
                }
                continue;
            }
            let Some((key, kind)) = name.split_once('.') else {
                continue;
            };
            if !is_key(key) || !matches!(kind, "token" | "lease" | "lock") {
                continue;
            }
            let removed_file = if kind == "lock" {
                remove_lock_file(&path)
            } else {
                fs::remove_file(&path)
            };
            match removed_file {
                Ok(()) => removed += usize::from(kind == "token"),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => fail(&path, e),
            }
        }
        match first_error {
            None => Ok(removed),
            Some(error) if failed == 1 => Err(error),
            Some(error) => Err(io::Error::new(
                error.kind(),
                format!("{error} (and {} more)", failed - 1),
            )),
        }
    }

    fn token_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.token"))
    }

    fn lease_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.lease"))
    }

    fn read(&self, key: &str) -> io::Result<Option<StoreEntry>> {
        // Beyond the bound it is not a token this crate wrote: read that far, to be refused.
        let Some(bytes) = read_bounded(&self.token_path(key), MAX_TOKEN_FILE)? else {
            return Ok(None);
        };
        let Some((expiry, value)) = bytes.split_first_chunk::<8>() else {
            // Not even a header: hand it on as it is, to be refused (and counted).
            return Ok(Some(StoreEntry {
                value: bytes,
                ttl: Duration::ZERO,
            }));
        };
        let expires = from_unix_ms(u64::from_be_bytes(*expiry));
        let Ok(ttl) = expires.duration_since(SystemTime::now()) else {
            return Ok(None);
        };
        Ok(Some(StoreEntry {
            value: value.to_vec(),
            ttl,
        }))
    }

    /// Runs `change` holding the credential's lock file, waited for at most `lock_wait`.
    fn locked<T>(&self, key: &str, change: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        self.locked_for(key, &STAYS, change)
    }

    /// [`locked`](Self::locked), for `caller`: not waited for once it has gone.
    fn locked_for<T>(
        &self,
        key: &str,
        caller: &AtomicBool,
        change: impl FnOnce() -> io::Result<T>,
    ) -> io::Result<T> {
        let path = self.dir.join(format!("{key}.lock"));
        // On this blocking thread's own clock; a wait past what it holds never ends.
        let now = std::time::Instant::now();
        let deadline = now
            .checked_add(self.lock_wait)
            .unwrap_or_else(|| super::far_after(now));
        let mut lock = open_lock_file(&self.dir, &path, deadline, caller)?;
        loop {
            lock_before(&lock, deadline, caller, || {
                format!(
                    "the lock file {key}.lock was held for over {:?} (by a stuck process?)",
                    self.lock_wait
                )
            })?;
            // Still the file at the path: one that replaced a planted one (or that `clear`
            // removed) meanwhile is not the lock the others take.
            if is_at(&lock, &path)? {
                break;
            }
            if std::time::Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "the lock file {key}.lock kept being replaced for {:?}",
                        self.lock_wait
                    ),
                ));
            }
            lock = open_lock_file(&self.dir, &path, deadline, caller)?;
        }
        let result = change();
        // Closing the file releases the lock too; unlock first to say so.
        let _ = FileExt::unlock(&lock);
        result
    }

    /// Writes the token, then sweeps a few abandoned writes' temporary files
    /// ([`sweep_abandoned_writes`](Self::sweep_abandoned_writes)), outside the lock.
    fn write(&self, key: &str, value: &[u8], ttl: Duration) -> io::Result<()> {
        let expires = expiry_ms(ttl);
        let mut bytes = expires.to_be_bytes().to_vec();
        bytes.extend_from_slice(value);
        self.locked(key, || self.replace(&self.token_path(key), &bytes))?;
        self.sweep_abandoned_writes();
        Ok(())
    }

    /// Looks at up to [`SWEEP_LOOKS`] temporary files in the directory, picked at random
    /// among the regular files named as one, and removes those of abandoned writes
    /// ([`remove_if_abandoned`]): a cache whose writers are often killed between a write and
    /// its rename piled them up until `clear` (found by review). Picked at random, files it
    /// cannot remove (a writer's at work, another user's) do not keep it from the others:
    /// it looked at the first ones listed, and once those were such files it never got
    /// past them (found by review). Best effort: what cannot be read or removed is left
    /// for a later write.
    fn sweep_abandoned_writes(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        use std::hash::BuildHasher as _;
        let random = std::collections::hash_map::RandomState::new();
        let mut picked: Vec<(PathBuf, String)> = Vec::with_capacity(SWEEP_LOOKS);
        let mut seen = 0usize;
        for entry in entries.filter_map(Result::ok) {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            // The type the listing gives (no look at the file itself on most systems): a
            // link, FIFO or directory named as a temporary file is never one.
            if !is_temporary_name(&name) || !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            // Reservoir sampling: each of the `seen` is picked with the same chance.
            seen += 1;
            if seen > SWEEP_CANDIDATES {
                break;
            }
            if picked.len() < SWEEP_LOOKS {
                picked.push((entry.path(), name));
            } else {
                let slot = usize::try_from(random.hash_one(seen) % seen as u64).unwrap_or(0);
                if let Some(at) = picked.get_mut(slot) {
                    *at = (entry.path(), name);
                }
            }
        }
        for (path, name) in picked {
            let _ = remove_if_abandoned(&path, &name);
        }
    }

    /// Writes `bytes` to `path` through a temporary file renamed into place, locked from
    /// before it is written until the rename (on Windows, until just before it): a sweep
    /// takes only an unlocked one for abandoned. One a sweep removed before it was locked
    /// (its writer stopped for a minute in between) is written again, under a new name.
    fn replace(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let now = std::time::Instant::now();
        let deadline = now
            .checked_add(self.lock_wait)
            .unwrap_or_else(|| super::far_after(now));
        let mut attempts = 0;
        let mut file = loop {
            // NamedTempFile creates the file 0600 and renames it into place atomically.
            let file = tempfile::Builder::new()
                .prefix(TEMP_PREFIX)
                .rand_bytes(TEMP_RANDOM_LEN)
                .tempfile_in(&self.dir)?;
            // Held for a moment by a sweep or `clear` looking at it, at most.
            lock_before(file.as_file(), deadline, &STAYS, || {
                "a sweep held a new temporary file's lock for too long".to_owned()
            })?;
            // Still there: a sweep removes a file only under its lock (found by review: it
            // removed one whose writer was stopped before locking it, and the rename failed).
            if is_at(file.as_file(), file.path())? {
                break file;
            }
            attempts += 1;
            if attempts == 3 {
                return Err(io::Error::other(
                    "the temporary files of this write kept being removed",
                ));
            }
        };
        file.write_all(bytes)?;
        file.as_file().sync_all()?;
        // Unlocked before the rename on Windows only, where a lock keeps others from
        // reading; elsewhere held through it (found by review: unlocked, a writer stopped
        // before its rename lost its file to a sweep), released as the file closes.
        #[cfg(windows)]
        let _ = FileExt::unlock(file.as_file());
        match file.persist(path) {
            Ok(_) => Ok(()),
            // A rename cannot replace a directory: an empty one (planted, or made by
            // mistake) is removed first; one with anything in it is left, and this fails.
            Err(failed) if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) => {
                match fs::remove_dir(path) {
                    Ok(()) => failed.file.persist(path).map(drop).map_err(|e| e.error),
                    Err(_) => Err(failed.error),
                }
            }
            Err(failed) => Err(failed.error),
        }
    }

    fn compare_and_delete_now(&self, key: &str, expected: &[u8]) -> io::Result<bool> {
        self.locked(key, || {
            let matches = self.read(key)?.is_some_and(|entry| entry.value == expected);
            if matches {
                remove_if_present(&self.token_path(key))?;
            }
            Ok(matches)
        })
    }

    /// The lease's owner and expiry, if there is an unexpired lease.
    fn lease(&self, key: &str) -> io::Result<Option<(String, SystemTime)>> {
        let Some(bytes) = read_bounded(&self.lease_path(key), MAX_LEASE_FILE)? else {
            return Ok(None);
        };
        Ok(parse_lease(&bytes, SystemTime::now()))
    }

    /// Takes the lease for `owner` unless another holds it, or the caller has `gone` (a
    /// lease taken for nobody would hold the fleet until it expires).
    fn try_lease_now(
        &self,
        key: &str,
        owner: &str,
        ttl: Duration,
        gone: &AtomicBool,
    ) -> io::Result<bool> {
        if owner.is_empty() || owner.contains(char::is_whitespace) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a lease owner is one word",
            ));
        }
        self.locked_for(key, gone, || {
            if gone.load(Ordering::Acquire) || self.lease(key)?.is_some() {
                return Ok(false);
            }
            let expires = expiry_ms(ttl);
            let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
            let path = self.lease_path(key);
            self.replace(&path, format!("{owner} {expires} {ttl}").as_bytes())?;
            // Gone while it was written: ended at once, under the same lock.
            if gone.load(Ordering::Acquire) {
                remove_if_present(&path)?;
                return Ok(false);
            }
            Ok(true)
        })
    }

    fn release_now(&self, key: &str, owner: &str) -> io::Result<()> {
        self.locked(key, || {
            if self.lease(key)?.is_some_and(|(holder, _)| holder == owner) {
                remove_if_present(&self.lease_path(key))?;
            }
            Ok(())
        })
    }

    /// Runs blocking file work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        what: &'static str,
        work: impl FnOnce(FileStore) -> io::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let this = self.clone();
        let dir = self.dir.display().to_string();
        match tokio::task::spawn_blocking(move || work(this)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(StoreError::with_source(
                format!("could not {what} in the token directory {dir}"),
                error,
            )),
            Err(error) => Err(StoreError::with_source(
                format!("the file store's {what} did not finish"),
                error,
            )),
        }
    }
}

/// Tells a blocking thread that the call it works for has gone: dropped (given up, its
/// runtime shut down) before its answer.
#[derive(Default)]
struct Caller {
    gone: Arc<AtomicBool>,
    answered: bool,
}

/// What a caller that never goes leaves set.
static STAYS: AtomicBool = AtomicBool::new(false);

impl Caller {
    /// The answer arrived: nothing to tell.
    fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for Caller {
    fn drop(&mut self) {
        if !self.answered {
            self.gone.store(true, Ordering::Release);
        }
    }
}

#[async_trait::async_trait]
impl TokenStore for FileStore {
    async fn get(&self, key: &str) -> Result<Option<StoreEntry>, StoreError> {
        let key = checked(key)?;
        self.blocking("read a token", move |store| store.read(&key))
            .await
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let key = checked(key)?;
        let value = value.to_vec();
        self.blocking("write a token", move |store| store.write(&key, &value, ttl))
            .await
    }

    async fn compare_and_delete(&self, key: &str, expected: &[u8]) -> Result<bool, StoreError> {
        let key = checked(key)?;
        let expected = expected.to_vec();
        self.blocking("delete a token", move |store| {
            store.compare_and_delete_now(&key, &expected)
        })
        .await
    }

    async fn try_lease(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let key = checked(key)?;
        let owner = owner.to_owned();
        let caller = Caller::default();
        let gone = Arc::clone(&caller.gone);
        let taken = self
            .blocking("take a lease", move |store| {
                store.try_lease_now(&key, &owner, ttl, &gone)
            })
            .await;
        caller.answered();
        taken
    }

    async fn release_lease(&self, key: &str, owner: &str) -> Result<(), StoreError> {
        let key = checked(key)?;
        let owner = owner.to_owned();
        self.blocking("end a lease", move |store| store.release_now(&key, &owner))
            .await
    }

    /// Returns once the lease is gone (released or expired), or after `timeout`: looks
    /// every 20 ms.
    async fn wait(&self, key: &str, timeout: Duration) -> Result<(), StoreError> {
        let key = checked(key)?;
        let deadline = super::deadline_after(timeout);
        loop {
            let probe = key.clone();
            let held = self
                .blocking("look at a lease", move |store| store.lease(&probe))
                .await?
                .is_some();
            let now = tokio::time::Instant::now();
            if !held || now >= deadline {
                return Ok(());
            }
            tokio::time::sleep((deadline - now).min(POLL)).await;
        }
    }
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.dir)
            .field("lock_wait", &self.lock_wait)
            .finish()
    }
}

/// How old a temporary file must be for [`FileStore::clear`] or a write's sweep to take it
/// for one a killed process left: a write in progress renames its file within moments.
const ABANDONED_WRITE: Duration = Duration::from_secs(60);

/// How many temporary files a write's sweep looks at, at most: its work on files is bounded
/// however many there are (a directory that piled up thousands is swept over many writes;
/// it lists the directory, up to [`SWEEP_CANDIDATES`] of them, without looking at each).
const SWEEP_LOOKS: usize = 32;

/// How many temporary files a write's sweep picks among, at most: the first listed, so
/// that its listing is bounded too (100,000 listed cost a write 60 ms; measured).
const SWEEP_CANDIDATES: usize = 4096;

/// Whether `name` is named as [`FileStore::replace`] names its temporary files: the prefix
/// and six random letters or digits (not the repair file).
fn is_temporary_name(name: &str) -> bool {
    name != REPAIR_FILE
        && name.strip_prefix(TEMP_PREFIX).is_some_and(|random| {
            random.len() == TEMP_RANDOM_LEN && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// Removes `path` (named `name`) if it is the temporary file of a write that never
/// finished, and says whether it did: [named as one](is_temporary_name), a regular file
/// (opened without following a link or waiting) last written [`ABANDONED_WRITE`] ago or
/// more, and not locked: a writer locks its file from before it writes it until its
/// rename, and the lock goes with the writer's process, so a writer still at work
/// (stopped, say, or on a hung disk) keeps its file however old. A file that does not
/// open, or that cannot be locked, is taken for locked. Removed holding its lock: a writer
/// stopped between creating and locking it then finds it gone, and writes again (found by
/// review: removed after the look, its writer's rename failed).
fn remove_if_abandoned(path: &Path, name: &str) -> io::Result<bool> {
    if !is_temporary_name(name) {
        return Ok(false);
    }
    let mut options = OpenOptions::new();
    options.read(true);
    no_follow_no_wait(&mut options);
    let Ok(file) = options.open(path) else {
        return Ok(false);
    };
    let old = file.metadata().is_ok_and(|metadata| {
        metadata.is_file()
            && metadata
                .modified()
                .ok()
                .and_then(|at| at.elapsed().ok())
                .is_some_and(|age| age >= ABANDONED_WRITE)
    });
    if !old || FileExt::try_lock(&file).is_err() {
        return Ok(false);
    }
    let removed = match is_at(&file, path) {
        Ok(true) => remove_if_present(path).map(|()| true),
        other => other.map(|_| false),
    };
    let _ = FileExt::unlock(&file);
    removed
}

/// When an entry written now for `ttl` expires, in Unix milliseconds; far in the future for
/// a `ttl` past what `SystemTime` holds (found by review: `Duration::MAX` panicked).
fn expiry_ms(ttl: Duration) -> u64 {
    SystemTime::now().checked_add(ttl).map_or(u64::MAX, unix_ms)
}

/// A key this crate made: 64 hex digits, so it is safe as a file name.
fn is_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

fn checked(key: &str) -> Result<String, StoreError> {
    if is_key(key) {
        Ok(key.to_owned())
    } else {
        Err(StoreError::new(
            "a file store key must be 64 hex digits (keys come from partner-auth)",
        ))
    }
}

/// Removes the lock file at `path` holding its lock, so that nobody is in a change under
/// it: one that another process holds is left (`Ok`, as if absent). Anything else at its
/// path (a link, say) nobody can hold, and is removed as it is.
fn remove_lock_file(path: &Path) -> io::Result<()> {
    if !fs::symlink_metadata(path)?.is_file() {
        return fs::remove_file(path);
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    no_follow_no_wait(&mut options);
    let lock = options.open(path)?;
    match FileExt::try_lock(&lock) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => return Ok(()),
        Err(fs4::TryLockError::Error(error)) => return Err(error),
    }
    // Still the file at the path: another removed it meanwhile, or repaired it.
    let removed = if is_at(&lock, path)? {
        fs::remove_file(path)
    } else {
        Ok(())
    };
    let _ = FileExt::unlock(&lock);
    removed
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// `<owner> <expiry, ms since the epoch> <time to live, ms>`, unexpired at `now` and
/// started no later than `now` (give or take [`LEASE_START_SLACK`]); anything else is no
/// lease, so a garbled or hand-made file cannot hold a credential's fetch back.
fn parse_lease(bytes: &[u8], now: SystemTime) -> Option<(String, SystemTime)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut words = text.split_ascii_whitespace();
    let (owner, expires, ttl) = (words.next()?, words.next()?, words.next()?);
    if words.next().is_some() {
        return None;
    }
    let expires = from_unix_ms(expires.parse().ok()?);
    let started = expires.checked_sub(Duration::from_millis(ttl.parse().ok()?))?;
    (started <= now + LEASE_START_SLACK && now < expires).then(|| (owner.to_owned(), expires))
}

/// Up to `limit` bytes of the file at `path`, or `None` if there is none. Anything at
/// `path` that is not a regular file (a symbolic link, never followed; a FIFO, which would
/// keep a blocking `open` or `read` waiting for a writer forever; a directory) reads as
/// empty: an entry that does not open, counted as one, and replaced by the next write
/// (an atomic rename over it; an empty directory is removed first, and over one with
/// anything in it, that write fails).
fn read_bounded(path: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut options = OpenOptions::new();
    options.read(true);
    no_follow_no_wait(&mut options);
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // A link (`ELOOP`, or another code on a BSD), a socket (`ENXIO`): not a file.
        Err(_) if not_a_regular_file(path) => return Ok(Some(Vec::new())),
        Err(e) => return Err(e),
    };
    // Checked on what was opened: nothing can change in between.
    if !file.metadata()?.is_file() {
        return Ok(Some(Vec::new()));
    }
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Whether something that is not a regular file is at `path` (not followed).
fn not_a_regular_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|metadata| !metadata.is_file())
}

/// The credential's lock file, opened (created `0600` if missing). Something else planted
/// at its path (a link, a FIFO, a socket, an empty directory) is removed and the file
/// created in its place: a lock file holds nothing, and left there it would fail every
/// change to the credential's files for good. Stores repair it one at a time (see
/// [`lock_for_repairs`]), each looking again in its turn: none removes a lock file another
/// has just put in place (and may hold). A turn is waited for until `deadline` at most,
/// like the lock file, and not once the caller has gone.
fn open_lock_file(
    dir: &Path,
    path: &Path,
    deadline: std::time::Instant,
    caller: &AtomicBool,
) -> io::Result<File> {
    match open_private(path) {
        Ok(file) if file.metadata()?.is_file() => return Ok(file),
        Ok(_) => {}
        Err(_) if not_a_regular_file(path) => {}
        // What failed to open may have been repaired by another store since: once more.
        Err(e) => match open_private(path) {
            Ok(file) if file.metadata()?.is_file() => return Ok(file),
            _ => return Err(e),
        },
    }
    let repairing = lock_for_repairs(dir, deadline, caller)?;
    match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => fs::remove_dir(path)?,
        Ok(metadata) if !metadata.is_file() => remove_if_present(path)?,
        _ => {}
    }
    let file = open_private(path);
    drop(repairing);
    let file = file?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    Ok(file)
}

/// The file stores take turns on to repair a lock file: `.partner-auth-repair` in the
/// directory (a regular file opened as the others are, which every platform and network
/// file system can lock; `clear` leaves it). Tried until `deadline`, and not once the
/// caller has gone.
fn lock_for_repairs(
    dir: &Path,
    deadline: std::time::Instant,
    caller: &AtomicBool,
) -> io::Result<File> {
    let turns = open_private(&dir.join(REPAIR_FILE))?;
    lock_before(&turns, deadline, caller, || {
        "another store was repairing a lock file for too long".to_owned()
    })?;
    Ok(turns)
}

/// Locks `file`, trying until `deadline` (a `WouldBlock` error saying `held_too_long`), and
/// not once `caller` has gone (`Interrupted`): tried, not waited for, since a blocking wait
/// on a lock a stuck process holds would keep this thread, and the runtime it belongs to,
/// from ever finishing.
fn lock_before(
    file: &File,
    deadline: std::time::Instant,
    caller: &AtomicBool,
    held_too_long: impl FnOnce() -> String,
) -> io::Result<()> {
    let mut pause = Duration::from_millis(1);
    loop {
        if caller.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "its caller gave up waiting for the lock file",
            ));
        }
        match FileExt::try_lock(file) {
            Ok(()) => return Ok(()),
            Err(fs4::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(POLL);
            }
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(io::Error::new(io::ErrorKind::WouldBlock, held_too_long()));
            }
            Err(fs4::TryLockError::Error(error)) => return Err(error),
        }
    }
}

/// Whether `file` is the file at `path` now (not one removed or replaced since it was
/// opened).
fn is_at(file: &File, path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let opened = file.metadata()?;
        Ok(fs::symlink_metadata(path)
            .is_ok_and(|there| (there.dev(), there.ino()) == (opened.dev(), opened.ino())))
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        Ok(true)
    }
}

fn open_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    no_follow_no_wait(&mut options);
    options.open(path)
}

/// Opening fails on a symbolic link (Unix): someone who can write to the directory cannot
/// make the store read or create a file elsewhere. And it does not wait: a FIFO planted in
/// the directory opens at once (to be found not a regular file) instead of holding the
/// thread, and the runtime it belongs to, until someone writes to it.
fn no_follow_no_wait(options: &mut OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    let _ = options;
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A caller of the `TokenStore` methods may pass any `Duration`: the longest is an
    /// entry that does not expire, not a panic in the blocking thread.
    #[tokio::test]
    async fn the_longest_ttl_is_an_entry_that_does_not_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path()).unwrap();
        let key = "ab".repeat(32);
        store.put(&key, b"value", Duration::MAX).await.unwrap();
        let entry = store.get(&key).await.unwrap().unwrap();
        assert_eq!(entry.value, b"value");
        assert!(
            entry.ttl > Duration::from_secs(100 * 365 * 86_400),
            "{:?}",
            entry.ttl
        );
        assert!(store.try_lease(&key, "owner", Duration::MAX).await.unwrap());
        assert!(!store.try_lease(&key, "other", Duration::MAX).await.unwrap());
    }

    /// `clear` takes for an abandoned write only a file named as `replace` names them and a
    /// minute old: not the repair file, not a user's file of a like name, not a fresh write.
    #[test]
    fn only_an_old_file_named_as_a_write_is_an_abandoned_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path()).unwrap();
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        let plant = |name: &str, old: bool| {
            let path = dir.path().join(name);
            let file = File::create(&path).unwrap();
            if old {
                file.set_modified(hour_ago).unwrap();
            }
            path
        };
        let abandoned = plant(".partner-auth-Xk3q9Z", true);
        let kept = [
            plant(".partner-auth-repair", true),
            plant(".partner-auth-notes.txt", true),
            plant(".partner-auth-Xk3q9", true),
            plant(".partner-auth-fresh1", false),
        ];
        assert_eq!(store.clear().unwrap(), 0);
        assert!(!abandoned.exists());
        for path in kept {
            assert!(path.exists(), "{}", path.display());
        }
        // A write's own temporary file is named so: the rule matches what `replace` makes.
        let made = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .rand_bytes(TEMP_RANDOM_LEN)
            .tempfile_in(dir.path())
            .unwrap();
        let name = made
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        made.as_file().set_modified(hour_ago).unwrap();
        // Locked as `replace` locks it while it writes: a writer's, however old.
        FileExt::try_lock(made.as_file()).unwrap();
        assert!(!remove_if_abandoned(made.path(), &name).unwrap(), "{name}");
        assert!(made.path().exists());
        FileExt::unlock(made.as_file()).unwrap();
        assert!(remove_if_abandoned(made.path(), &name).unwrap(), "{name}");
        assert!(!made.path().exists());
    }
}
