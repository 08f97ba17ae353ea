//! The session bus side of the tray: StatusNotifierWatcher → the app's StatusNotifierItem →
//! its com.canonical.dbusmenu menu, the same path a panel takes to show and click the menu.

use std::collections::HashMap;

use zbus::{Connection, OwnedObjectPath, OwnedVariant, Variant};

pub const WATCHER: &str = "org.kde.StatusNotifierWatcher";
const WATCHER_PATH: &str = "/StatusNotifierWatcher";
const ITEM_INTERFACE: &str = "org.kde.StatusNotifierItem";
const MENU_INTERFACE: &str = "com.canonical.dbusmenu";

/// A tray item as the watcher lists it: a bus name and an object path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub bus_name: String,
    pub path: String,
}

/// One entry of a dbusmenu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuEntry {
    pub id: i32,
    pub label: String,
}

fn session() -> zbus::Result<Connection> {
    zbus::block_on(Connection::session())
}

async fn get_property(
    bus: &Connection,
    dest: &str,
    path: &str,
    interface: &str,
    name: &str,
) -> zbus::Result<OwnedVariant> {
    let reply = bus
        .call_method(
            Some(dest),
            path,
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(interface, name),
        )
        .await?;
    reply.body().deserialize::<OwnedVariant>()
}

/// Whether `name` has an owner on the session bus.
pub fn name_has_owner(name: &str) -> zbus::Result<bool> {
    let bus = session()?;
    zbus::block_on(async {
        let reply = bus
            .call_method(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                Some("org.freedesktop.DBus"),
                "NameHasOwner",
                &(name,),
            )
            .await?;
        reply.body().deserialize::<bool>()
    })
}

/// Items registered with the watcher. Entries are `<bus name><object path>`, or a bare bus name:
/// the haskell `status-notifier-watcher` keeps only the sender's name (libayatana registers by
/// path) and answers `GetObjectPathForItemName` for the path; other watchers mean the default
/// `/StatusNotifierItem`.
pub fn registered_items() -> zbus::Result<Vec<Item>> {
    let bus = session()?;
    zbus::block_on(async {
        let value = get_property(
            &bus,
            WATCHER,
            WATCHER_PATH,
            WATCHER,
            "RegisteredStatusNotifierItems",
        )
        .await?;
        let mut items = Vec::new();
        for entry in Vec::<String>::try_from(value)? {
            let item = match split_entry(&entry) {
                Some(item) => item,
                None => Item {
                    path: object_path_for(&bus, &entry)
                        .await
                        .unwrap_or_else(|_| "/StatusNotifierItem".to_owned()),
                    bus_name: entry,
                },
            };
            items.push(item);
        }
        Ok(items)
    })
}

/// `:1.42/org/ayatana/NotificationItem/x` → bus name and path; `None` for a bare bus name.
fn split_entry(entry: &str) -> Option<Item> {
    let slash = entry.find('/')?;
    Some(Item {
        bus_name: entry[..slash].to_owned(),
        path: entry[slash..].to_owned(),
    })
}

async fn object_path_for(bus: &Connection, bus_name: &str) -> zbus::Result<String> {
    let reply = bus
        .call_method(
            Some(WATCHER),
            WATCHER_PATH,
            Some(WATCHER),
            "GetObjectPathForItemName",
            &(bus_name,),
        )
        .await?;
    reply.body().deserialize::<String>()
}

/// The Unix process id behind a bus name.
pub fn pid_of(bus_name: &str) -> zbus::Result<u32> {
    let bus = session()?;
    zbus::block_on(async {
        let reply = bus
            .call_method(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                Some("org.freedesktop.DBus"),
                "GetConnectionUnixProcessID",
                &(bus_name,),
            )
            .await?;
        reply.body().deserialize::<u32>()
    })
}

/// The registered tray item that process `pid` owns, if it has registered one.
pub fn item_of_process(pid: u32) -> Option<Item> {
    registered_items()
        .ok()?
        .into_iter()
        .find(|item| pid_of(&item.bus_name).ok() == Some(pid))
}

/// The object path of the item's menu (its `Menu` property).
pub fn menu_path(item: &Item) -> zbus::Result<String> {
    let bus = session()?;
    let value = zbus::block_on(get_property(
        &bus,
        &item.bus_name,
        &item.path,
        ITEM_INTERFACE,
        "Menu",
    ))?;
    Ok(OwnedObjectPath::try_from(value)?.as_str().to_owned())
}

/// Every labelled entry of the menu, depth first (GetLayout from the root, full depth).
pub fn menu_entries(item: &Item, menu: &str) -> zbus::Result<Vec<MenuEntry>> {
    let bus = session()?;
    let (_revision, (id, props, children)) = zbus::block_on(async {
        let reply = bus
            .call_method(
                Some(item.bus_name.as_str()),
                menu,
                Some(MENU_INTERFACE),
                "GetLayout",
                &(0i32, -1i32, Vec::<String>::new()),
            )
            .await?;
        reply
            .body()
            .deserialize::<(u32, (i32, HashMap<String, OwnedVariant>, Vec<OwnedVariant>))>()
    })?;
    let mut entries = Vec::new();
    push_entry(&mut entries, id, props.get("label").map(|v| &**v));
    for child in &children {
        collect(&mut entries, child);
    }
    Ok(entries)
}

fn push_entry(entries: &mut Vec<MenuEntry>, id: i32, label: Option<&Variant<'_>>) {
    if let Some(label) = label.and_then(string_of) {
        // GTK mnemonics: "_Quit" is shown as "Quit".
        entries.push(MenuEntry {
            id,
            label: label.replace('_', ""),
        });
    }
}

fn unwrap_variant<'v, 'a>(value: &'v Variant<'a>) -> &'v Variant<'a> {
    match value {
        Variant::Variant(inner) => unwrap_variant(inner),
        other => other,
    }
}

fn string_of(value: &Variant<'_>) -> Option<String> {
    String::try_from(unwrap_variant(value)).ok()
}

/// A child node is a `(ia{sv}av)` structure, boxed in a variant.
fn collect(entries: &mut Vec<MenuEntry>, node: &Variant<'_>) {
    let Variant::Structure(node) = unwrap_variant(node) else {
        return;
    };
    let [
        Variant::I32(id),
        Variant::Dict(props),
        Variant::Array(children),
    ] = node.fields()
    else {
        return;
    };
    let label = props
        .iter()
        .find_map(|(key, value)| (string_of(key).as_deref() == Some("label")).then_some(value));
    push_entry(entries, *id, label);
    for child in children.inner() {
        collect(entries, child);
    }
}

/// Clicks a menu entry the way a panel does: `Event(id, "clicked", <data>, timestamp)`.
pub fn click(item: &Item, menu: &str, id: i32) -> zbus::Result<()> {
    let bus = session()?;
    zbus::block_on(async {
        bus.call_method(
            Some(item.bus_name.as_str()),
            menu,
            Some(MENU_INTERFACE),
            "Event",
            &(id, "clicked", Variant::I32(0), 0u32),
        )
        .await
        .map(drop)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watcher_entries_with_a_path_split_into_bus_name_and_path() {
        assert_eq!(
            split_entry(":1.42/org/ayatana/NotificationItem/certgate"),
            Some(Item {
                bus_name: ":1.42".into(),
                path: "/org/ayatana/NotificationItem/certgate".into()
            })
        );
        assert_eq!(
            split_entry(":1.42"),
            None,
            "a bare name needs the watcher to find its path"
        );
    }
}
