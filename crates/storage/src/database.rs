//! The database as a whole: its schema and its health, apart from any
//! aggregate.

use async_trait::async_trait;

use crate::StoreResult;

/// Administration of the database itself.
#[async_trait]
pub trait Database: Send + Sync {
    /// Runs pending schema migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Cheap liveness probe of the database (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;
}
