//! The demo company served for office tests: its database loaded for the week of [`DAY`], the
//! real server on it, Dana (office) signed in over the JSON API, and the technicians' tablet
//! tokens.

use fieldsync_protocol::{Role, UserId};
use fieldsync_store::Store;

use crate::TestServer;
use crate::api::Api;

/// The demo company's week is the week of this Wednesday.
pub const DAY: &str = "2026-11-25";

/// A technician of the demo company and their tablet's token.
#[derive(Clone, Debug)]
pub struct Technician {
    /// The user.
    pub user: UserId,
    /// Their name.
    pub name: String,
    /// Their tablet's device token.
    pub token: String,
}

/// The server with the demo company, and Dana (office) signed in.
pub struct DemoOffice {
    /// The server.
    pub server: TestServer,
    /// Dana's signed-in API client.
    pub dana: Api,
    /// The technicians.
    pub technicians: Vec<Technician>,
    /// The directory of the database (and of anything else a test keeps).
    pub dir: tempfile::TempDir,
}

impl DemoOffice {
    /// Loads the demo company (plus `extra` users with passwords) and starts the server on it.
    pub async fn start(extra: &[(&str, Role, &str)]) -> DemoOffice {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.sqlite3");
        let technicians = {
            let mut store = Store::open(&path).unwrap();
            let day = chrono::NaiveDate::parse_from_str(DAY, "%Y-%m-%d").unwrap();
            let summary = fieldsync_server::demo::load(&mut store, day).unwrap();
            let tx = store.transaction().unwrap();
            for (name, role, password) in extra {
                let hash = fieldsync_server::auth::hash_password(password).unwrap();
                tx.add_user(name, *role, Some(&hash)).unwrap();
            }
            tx.commit().unwrap();
            summary
                .tablets
                .into_iter()
                .map(|(name, _, token)| Technician {
                    user: store.user_by_name(&name).unwrap().unwrap().0.id,
                    name,
                    token,
                })
                .collect()
        };
        let server = TestServer::start_with_db(&path).await.unwrap();
        let dana = Api::sign_in(&server, "dana", "dana-office-demo").await;
        DemoOffice {
            server,
            dana,
            technicians,
            dir,
        }
    }

    /// The technician named `name`.
    pub fn technician(&self, name: &str) -> &Technician {
        self.technicians.iter().find(|t| t.name == name).unwrap()
    }

    /// Dana's user id.
    pub async fn dana_id(&self) -> String {
        let me = self.dana.ok("/api/me").await;
        me["id"].as_str().expect("an id").to_string()
    }

    /// A client with no session.
    pub fn anonymous(&self) -> Api {
        Api::new(&self.server)
    }
}
