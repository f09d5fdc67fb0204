//! One error type for the facade. Every message names the object, the cause and the fix.

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The container is not defined in the lxcpath.
    #[error("container \"{name}\" does not exist in {lxcpath}; create it with \"hako create {name} -t busybox\" or pass the right lxcpath with -P")]
    NotFound { name: String, lxcpath: String },
    #[error("container \"{name}\" already exists in {lxcpath}; pick another name or destroy it first with \"hako destroy {name}\"")]
    AlreadyExists { name: String, lxcpath: String },
    /// `stop`, `freeze`, `attach`... on a container that is not running.
    #[error("container \"{name}\" is not running; start it with \"hako start {name}\"")]
    NotRunning { name: String },
    #[error("container \"{name}\" is already running; stop it first with \"hako stop {name}\"")]
    AlreadyRunning { name: String },
    #[error("container \"{name}\" is running; stop it first (\"hako stop {name}\") or pass -f to destroy it anyway")]
    Running { name: String },
    #[error("{0}")]
    Config(#[from] hako_config::ConfigError),
    #[error("{0}")]
    Store(#[from] hako_store::StoreError),
    #[error("{0}")]
    Runtime(#[from] hako_runtime::RuntimeError),
    #[error("{0}")]
    Cgroup(#[from] hako_cgroups::CgroupError),
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn other(msg: impl Into<String>) -> Error {
        Error::Other(msg.into())
    }
}
