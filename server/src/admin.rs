//! The `user` and `device` subcommands: each works on the store and returns the text to print.

use std::path::Path;

use anyhow::{Context as _, bail};
use fieldsync_protocol::Role;
use fieldsync_server::auth::{hash_password, new_device_token};
use fieldsync_server::config::{CompanyArgs, DeviceCommand, UserCommand};
use fieldsync_store::{Device, Store};

/// The shortest password accepted for office login.
const MIN_PASSWORD: usize = 8;

/// Runs a `user` subcommand.
pub fn user(command: UserCommand) -> anyhow::Result<String> {
    match command {
        UserCommand::Add(add) => add_user(
            &mut open(&add.db.db)?,
            &add.name,
            add.role,
            add.password.as_deref(),
        ),
        UserCommand::List(db) => list_users(&open(&db.db)?),
    }
}

/// Runs a `device` subcommand.
pub fn device(command: DeviceCommand) -> anyhow::Result<String> {
    match command {
        DeviceCommand::Add(add) => {
            add_device(&mut open(&add.db.db)?, &add.user, add.name.as_deref())
        }
        DeviceCommand::Revoke(revoke) => revoke_device(&mut open(&revoke.db.db)?, revoke.number),
        DeviceCommand::List(db) => list_devices(&open(&db.db)?),
    }
}

/// `company`: sets the company's name, address and phone (those given), then shows them.
pub fn company(args: CompanyArgs) -> anyhow::Result<String> {
    let mut store = open(&args.db.db)?;
    let mut company = store.company()?;
    let changed = args.name.is_some()
        || args.address.is_some()
        || args.phone.is_some()
        || args.time_zone.is_some();
    if let Some(name) = args.name {
        if name.trim().is_empty() {
            bail!("the company's name cannot be empty");
        }
        company.name = name.trim().to_string();
    }
    if let Some(address) = args.address {
        company.address_lines = address
            .split('|')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
    }
    if let Some(phone) = args.phone {
        company.phone = phone.trim().to_string();
    }
    if let Some(zone) = args.time_zone {
        company.time_zone = fieldsync_server::zone::Zone::named(&zone)
            .map_err(anyhow::Error::msg)?
            .name()
            .to_string();
    }
    if changed {
        store.write(|tx| tx.set_company(&company))?;
    }
    Ok(format!(
        "{}\n{}\n{}\ntimes in {}\n",
        if company.name.is_empty() {
            "(no name set)"
        } else {
            &company.name
        },
        company.address_lines.join("\n"),
        company.phone,
        fieldsync_server::zone::Zone::of(&company).name()
    ))
}

/// `backup`: a consistent copy of the database at `db`, taken while the server may be running.
pub fn backup(db: &Path, to: &Path) -> anyhow::Result<String> {
    if !db.exists() {
        bail!("there is no database at {}", db.display());
    }
    let store = open(db)?;
    let copy = store
        .backup_to(to)
        .with_context(|| format!("cannot back up {} to {}", db.display(), to.display()))?;
    Ok(format!(
        "Backed up {} to {}: {} bytes, changes up to number {}.\nRestore it with: fieldsync-server restore --from {} --db {}\n",
        db.display(),
        to.display(),
        copy.bytes,
        copy.latest_seq,
        to.display(),
        db.display()
    ))
}

/// `restore`: puts the backup `from` in place of the database at `db`, which no server may be
/// serving.
pub fn restore(from: &Path, db: &Path) -> anyhow::Result<String> {
    let _lock = fieldsync_server::lock::lock_database(db)?;
    let restored = fieldsync_store::restore(from, db)
        .with_context(|| format!("cannot restore {} from {}", db.display(), from.display()))?;
    Ok(format!(
        "Restored {} from {}: {} bytes, changes up to number {}.\nTablets that synced after this backup was taken repair on their next sync: the server gets back what they hold, and they get what it writes from now on.\n",
        db.display(),
        from.display(),
        restored.bytes,
        restored.latest_seq
    ))
}

fn open(path: &Path) -> anyhow::Result<Store> {
    Store::open(path).with_context(|| format!("cannot open database {}", path.display()))
}

/// `user add`: office and admin users need a password (for office login); technicians may
/// have one.
pub fn add_user(
    store: &mut Store,
    name: &str,
    role: Role,
    password: Option<&str>,
) -> anyhow::Result<String> {
    let name = name.trim();
    if name.is_empty() {
        bail!("a user name cannot be empty");
    }
    let password = password.filter(|p| !p.is_empty());
    if password.is_none() && role != Role::Technician {
        bail!(
            "{role} users need a password for office login: pass --password or set FIELDSYNC_PASSWORD"
        );
    }
    if password.is_some_and(|p| p.chars().count() < MIN_PASSWORD) {
        bail!("the password is too short: use at least {MIN_PASSWORD} characters");
    }
    let hash = password
        .map(hash_password)
        .transpose()
        .context("cannot hash the password")?;
    let user = store
        .write(|tx| tx.add_user(name, role, hash.as_deref()))
        .with_context(|| format!("cannot add user {name:?}"))?;
    let login = if hash.is_some() {
        "with a password"
    } else {
        "without office login"
    };
    Ok(format!("Added {} ({}), {login}.\n", user.name, user.role))
}

/// `user list`.
pub fn list_users(store: &Store) -> anyhow::Result<String> {
    let users = store.users().context("cannot list users")?;
    if users.is_empty() {
        return Ok("No users yet: add one with `fieldsync-server user add`.\n".to_string());
    }
    Ok(users
        .iter()
        .map(|user| format!("{:<24} {}\n", user.name, user.role))
        .collect())
}

/// `device add`: registers a tablet of `user` and returns its token, which is not stored.
pub fn add_device(store: &mut Store, user: &str, name: Option<&str>) -> anyhow::Result<String> {
    let (user, _) = store
        .user_by_name(user.trim())
        .context("cannot look up the user")?
        .with_context(|| {
            format!("no user named {user:?}: see `fieldsync-server user list`, or add one")
        })?;
    let name = match name.map(str::trim) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => format!("{}'s tablet", user.name),
    };
    let (token, hash) = new_device_token();
    let device = store
        .write(|tx| tx.add_device(user.id, &name, hash))
        .with_context(|| format!("cannot add a device for {}", user.name))?;
    Ok(format!(
        "Added device {} ({:?}) for {} ({}).\n\
         Its token is shown only this once and is not stored; enter it on the tablet now:\n\
         \n    {token}\n\n",
        device.number, device.name, device.user.name, device.user.role
    ))
}

/// `device revoke`: the device can no longer sync.
pub fn revoke_device(store: &mut Store, number: i64) -> anyhow::Result<String> {
    let device = store
        .device_by_number(number)
        .context("cannot look up the device")?
        .with_context(|| {
            format!("no device number {number}: see `fieldsync-server device list`")
        })?;
    let revoked = store
        .write(|tx| tx.revoke_device(device.id))
        .with_context(|| format!("cannot revoke device {number}"))?;
    Ok(if revoked {
        format!(
            "Revoked device {number} ({:?}, {}): it can no longer sync.\n",
            device.name, device.user.name
        )
    } else {
        format!("Device {number} was already revoked.\n")
    })
}

/// `device list`.
pub fn list_devices(store: &Store) -> anyhow::Result<String> {
    let devices = store.devices().context("cannot list devices")?;
    if devices.is_empty() {
        return Ok("No devices yet: pair one with `fieldsync-server device add`.\n".to_string());
    }
    Ok(devices.iter().map(device_line).collect())
}

fn device_line(device: &Device) -> String {
    let status = if device.revoked { "revoked" } else { "active" };
    format!(
        "{:>4}  {status:<7}  {:<24}  {} ({})\n",
        device.number, device.name, device.user.name, device.user.role
    )
}

/// Loads the demo company into the database at `path` if it holds no accounts yet; `None`
/// when it already does.
pub fn load_demo(
    path: &std::path::Path,
) -> anyhow::Result<Option<fieldsync_server::demo::DemoSummary>> {
    let mut store = Store::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    if !store.accounts()?.is_empty() {
        return Ok(None);
    }
    let today = fieldsync_server::demo::today();
    let summary = fieldsync_server::demo::load(&mut store, today)
        .map_err(|e| anyhow::anyhow!("loading the demo company: {e}"))?;
    Ok(Some(summary))
}

#[cfg(test)]
mod tests {
    use fieldsync_server::auth::device_token_hash;

    use super::*;

    fn error_text(err: anyhow::Error) -> String {
        format!("{err:#}")
    }

    /// The token line of `device add`'s output.
    fn token_in(output: &str) -> &str {
        output
            .lines()
            .map(str::trim)
            .find(|line| line.starts_with("fsd_"))
            .unwrap()
    }

    #[test]
    fn office_and_admin_users_need_a_password_and_technicians_do_not() {
        let mut store = Store::open_in_memory().unwrap();

        let err = add_user(&mut store, "Olga", Role::Office, None).unwrap_err();
        assert!(error_text(err).contains("office users need a password"));
        let err = add_user(&mut store, "Ada", Role::Admin, Some("")).unwrap_err();
        assert!(error_text(err).contains("admin users need a password"));
        let err = add_user(&mut store, "Ada", Role::Admin, Some("short")).unwrap_err();
        assert!(error_text(err).contains("too short"));
        assert!(store.users().unwrap().is_empty());

        let out = add_user(&mut store, " Tess ", Role::Technician, None).unwrap();
        assert_eq!(out, "Added Tess (technician), without office login.\n");
        add_user(&mut store, "Olga", Role::Office, Some("long enough")).unwrap();

        let (_, hash) = store.user_by_name("olga").unwrap().unwrap();
        assert!(fieldsync_server::auth::verify_password(
            "long enough",
            &hash.unwrap()
        ));
        assert_eq!(store.user_by_name("tess").unwrap().unwrap().1, None);
        assert_eq!(
            list_users(&store).unwrap(),
            format!("{:<24} office\n{:<24} technician\n", "Olga", "Tess")
        );
    }

    #[test]
    fn a_duplicate_name_is_a_clear_error() {
        let mut store = Store::open_in_memory().unwrap();
        add_user(&mut store, "Tess", Role::Technician, None).unwrap();

        let err = add_user(&mut store, "tess", Role::Technician, None).unwrap_err();

        assert_eq!(
            error_text(err),
            r#"cannot add user "tess": a user named "Tess" already exists"#
        );
    }

    #[test]
    fn device_add_prints_a_token_that_matches_the_stored_hash() {
        let mut store = Store::open_in_memory().unwrap();
        add_user(&mut store, "Tess", Role::Technician, None).unwrap();

        let out = add_device(&mut store, "tess", None).unwrap();

        assert!(
            out.starts_with(r#"Added device 1 ("Tess's tablet") for Tess (technician)."#),
            "{out}"
        );
        assert!(
            out.contains("shown only this once and is not stored"),
            "{out}"
        );
        let hash = device_token_hash(token_in(&out)).unwrap();
        let device = store.device_by_token_hash(&hash).unwrap().unwrap();
        assert_eq!((device.number, device.revoked), (1, false));

        let second = add_device(&mut store, "Tess", Some("spare")).unwrap();
        assert_ne!(token_in(&second), token_in(&out));
        assert_eq!(store.device_by_number(2).unwrap().unwrap().name, "spare");
    }

    #[test]
    fn a_device_for_an_unknown_user_is_a_clear_error() {
        let mut store = Store::open_in_memory().unwrap();

        let err = add_device(&mut store, "Nobody", None).unwrap_err();

        assert!(
            error_text(err).starts_with(r#"no user named "Nobody""#),
            "unexpected message"
        );
        assert!(store.devices().unwrap().is_empty());
    }

    #[test]
    fn devices_are_revoked_by_number_and_listed_with_their_status() {
        let mut store = Store::open_in_memory().unwrap();
        add_user(&mut store, "Tess", Role::Technician, None).unwrap();
        add_device(&mut store, "Tess", None).unwrap();
        add_device(&mut store, "Tess", Some("spare")).unwrap();

        let out = revoke_device(&mut store, 2).unwrap();
        assert_eq!(
            out,
            "Revoked device 2 (\"spare\", Tess): it can no longer sync.\n"
        );
        assert_eq!(
            revoke_device(&mut store, 2).unwrap(),
            "Device 2 was already revoked.\n"
        );
        let err = revoke_device(&mut store, 7).unwrap_err();
        assert!(error_text(err).starts_with("no device number 7"));

        let list = list_devices(&store).unwrap();
        let lines: Vec<&str> = list.lines().collect();
        assert_eq!(lines.len(), 2, "{list}");
        assert!(
            lines[0].starts_with("   1  active ") && lines[0].contains("Tess's tablet"),
            "{list}"
        );
        assert!(
            lines[1].starts_with("   2  revoked") && lines[1].ends_with("Tess (technician)"),
            "{list}"
        );
    }

    #[test]
    fn empty_lists_say_how_to_add() {
        let store = Store::open_in_memory().unwrap();
        assert!(list_users(&store).unwrap().contains("user add"));
        assert!(list_devices(&store).unwrap().contains("device add"));
    }

    #[test]
    fn subcommands_work_on_the_database_file_they_are_given() {
        use fieldsync_server::config::{DbArg, DeviceAdd, UserAdd};
        let dir = tempfile::tempdir().unwrap();
        let db = || DbArg {
            db: dir.path().join("fieldsync.sqlite3"),
        };

        user(UserCommand::Add(UserAdd {
            name: "Ada".into(),
            role: Role::Admin,
            password: Some("a long password".into()),
            db: db(),
        }))
        .unwrap();
        let out = device(DeviceCommand::Add(DeviceAdd {
            user: "Ada".into(),
            name: Some("desk".into()),
            db: db(),
        }))
        .unwrap();
        token_in(&out);

        assert!(user(UserCommand::List(db())).unwrap().starts_with("Ada "));
        assert!(device(DeviceCommand::List(db())).unwrap().contains("desk"));
    }
}
