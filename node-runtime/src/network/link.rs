//! Small link requests shared by the bridge, veth and address code: look an interface up by
//! name, read its kind, bring it up, delete it. Each takes an rtnetlink handle from
//! `netns.rs`, so it acts in whichever namespace that handle's worker entered.

use futures_util::TryStreamExt;
use nix::errno::Errno;
use rtnetlink::packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};
use rtnetlink::{Handle, LinkUnspec};

use super::NetworkError;
use super::error::errno;

/// The interface called `name`, or `None` when there is none.
pub async fn find(handle: &Handle, name: &str) -> Result<Option<LinkMessage>, NetworkError> {
    let mut links = handle.link().get().match_name(name).execute();
    match links.try_next().await {
        Ok(link) => Ok(link),
        Err(err) if errno(&err) == Some(Errno::ENODEV as i32) => Ok(None),
        Err(source) => Err(NetworkError::Netlink {
            what: format!("look up interface {name}"),
            source,
        }),
    }
}

/// The interface's kind (`bridge`, `veth`...), `None` for plain devices such as lo.
pub fn kind_of(link: &LinkMessage) -> Option<InfoKind> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            LinkInfo::Kind(kind) => Some(kind.clone()),
            _ => None,
        }),
        _ => None,
    })
}

/// The index of the bridge (or other controller) the interface is enslaved to.
pub fn controller_of(link: &LinkMessage) -> Option<u32> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Controller(index) => Some(*index),
        _ => None,
    })
}

/// Sets the interface administratively up.
pub async fn set_up(handle: &Handle, index: u32, name: &str) -> Result<(), NetworkError> {
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(NetworkError::netlink(format!("set {name} up")))
}

/// Deletes the interface if it exists; true when something was deleted.
pub async fn delete(handle: &Handle, name: &str) -> Result<bool, NetworkError> {
    let Some(link) = find(handle, name).await? else {
        return Ok(false);
    };
    match handle.link().del(link.header.index).execute().await {
        Ok(()) => Ok(true),
        // Gone in between (its peer's namespace died): the goal is reached all the same.
        Err(err) if errno(&err) == Some(Errno::ENODEV as i32) => Ok(false),
        Err(source) => Err(NetworkError::Netlink {
            what: format!("delete interface {name}"),
            source,
        }),
    }
}
