//! Where and how to reach a database server: one set of options for every
//! server backend (PostgreSQL's `PgOptions` and MariaDB's alike).

/// Where and how to reach the server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `postgres://user:password@host:port/database` (or key=value form),
    /// or `mysql://user:password@host:port/database`.
    pub url: String,
    /// The database may hold objects rowguard did not create (the user says
    /// it is rowguard's to use); rowguard still writes only in databases it creates.
    pub owned_by_rowguard: bool,
    /// The login role the code under test runs as (what `current_user`
    /// says to it); default `rowguard_<pid>_<random>_<n>_app`. Created by
    /// rowguard and dropped after the run; a role of that name that
    /// rowguard did not create is an error.
    pub app_role: Option<String>,
}

impl ServerOptions {
    /// Options for the server at `url`, refusing a database with foreign objects.
    pub fn new(url: impl Into<String>) -> ServerOptions {
        ServerOptions {
            url: url.into(),
            owned_by_rowguard: false,
            app_role: None,
        }
    }
}
