//! Moving host ids between the two sides a container's files can be on: host ids (a
//! privileged container, whose root is host root) and its range (`base..base + 65536`). Pure
//! functions over ids and over the attribute values that hold ids: file capabilities
//! (`security.capability`, whose v3 form names the root uid it is valid for) and POSIX ACLs
//! (`system.posix_acl_access` / `_default`, whose user and group entries name ids). Overlayfs
//! keeps its own metadata under `trusted.overlay.*` when mounted by host root and under
//! `user.overlay.*` when mounted inside a user namespace (`userxattr`); [`IdShift::xattr_name`]
//! renames between them.

use super::pool::RANGE_SIZE;

/// The container id given to a host id that has no place on the target side (nobody).
pub const OVERFLOW: u32 = 65534;

/// A move of every id from one side to the other. `0` stands for host ids (privileged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdShift {
    /// The side the files were on.
    pub from: u32,
    /// The side they go to.
    pub to: u32,
}

fn on_side(base: u32, id: u32) -> bool {
    id >= base && id - base < RANGE_SIZE
}

impl IdShift {
    /// The host id that `id` becomes. Ids already on the target side stay (so a shift that was
    /// cut off can simply run again: the two sides never overlap, as a range starts at 65536 or
    /// above); ids on neither side (a privileged container's uid 70000, say) become the target
    /// side's nobody, since no container id stands for them.
    pub fn id(&self, id: u32) -> u32 {
        if on_side(self.to, id) {
            id
        } else if on_side(self.from, id) {
            id - self.from + self.to
        } else {
            self.to + OVERFLOW
        }
    }

    /// Whether `id` has no container id on either side (it becomes nobody).
    pub fn unmappable(&self, id: u32) -> bool {
        !on_side(self.to, id) && !on_side(self.from, id)
    }

    /// `security.capability` for the target side, or `None` when the value is not one the
    /// kernel would accept (left as it is). The v3 form's root uid moves like any id; a root of
    /// host root is written in the v2 form, which is what the kernel itself stores for it.
    pub fn capability(&self, value: &[u8]) -> Option<Vec<u8>> {
        const V2: u32 = 0x0200_0000;
        const V3: u32 = 0x0300_0000;
        const MASK: u32 = 0xFF00_0000;
        let magic = u32::from_le_bytes(value.get(0..4)?.try_into().ok()?);
        let (body, root) = match (magic & MASK, value.len()) {
            (V2, 20) => (&value[..20], 0),
            (V3, 24) => (
                &value[..20],
                u32::from_le_bytes(value[20..24].try_into().ok()?),
            ),
            _ => return None,
        };
        let flags = magic & !MASK;
        let root = self.id(root);
        let mut out = Vec::with_capacity(24);
        if root == 0 {
            out.extend_from_slice(&(V2 | flags).to_le_bytes());
            out.extend_from_slice(&body[4..]);
        } else {
            out.extend_from_slice(&(V3 | flags).to_le_bytes());
            out.extend_from_slice(&body[4..]);
            out.extend_from_slice(&root.to_le_bytes());
        }
        Some(out)
    }

    /// A POSIX ACL value with its named user and group entries moved, or `None` when it is
    /// not a version-2 ACL (left as it is).
    pub fn acl(&self, value: &[u8]) -> Option<Vec<u8>> {
        const ACL_USER: u16 = 0x02;
        const ACL_GROUP: u16 = 0x08;
        if value.len() < 4 || !(value.len() - 4).is_multiple_of(8) {
            return None;
        }
        if u32::from_le_bytes(value[0..4].try_into().ok()?) != 2 {
            return None;
        }
        let mut out = value.to_vec();
        for entry in out[4..].chunks_exact_mut(8) {
            let tag = u16::from_le_bytes([entry[0], entry[1]]);
            if tag == ACL_USER || tag == ACL_GROUP {
                let id = u32::from_le_bytes(entry[4..8].try_into().ok()?);
                entry[4..8].copy_from_slice(&self.id(id).to_le_bytes());
            }
        }
        Some(out)
    }

    /// The name overlayfs metadata has on the target side (`trusted.overlay.*` for host ids,
    /// `user.overlay.*` in a range), or `None` when `name` is not overlay metadata of the
    /// other side.
    pub fn xattr_name(&self, name: &[u8]) -> Option<Vec<u8>> {
        const HOST: &[u8] = b"trusted.overlay.";
        const USER: &[u8] = b"user.overlay.";
        let (have, want) = if self.to == 0 {
            (USER, HOST)
        } else if self.from == 0 {
            (HOST, USER)
        } else {
            return None;
        };
        let rest = name.strip_prefix(have)?;
        Some([want, rest].concat())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u32 = 165_536;
    const UP: IdShift = IdShift { from: 0, to: BASE };
    const DOWN: IdShift = IdShift { from: BASE, to: 0 };

    #[test]
    fn ids_move_both_ways_and_a_second_pass_changes_nothing() {
        assert_eq!(UP.id(0), BASE);
        assert_eq!(UP.id(1000), BASE + 1000);
        assert_eq!(UP.id(UP.id(1000)), BASE + 1000, "idempotent");
        assert_eq!(DOWN.id(BASE + 1000), 1000);
        assert_eq!(DOWN.id(1000), 1000, "already moved");
        assert_eq!(UP.id(70_000), BASE + OVERFLOW, "no container id for it");
        assert!(UP.unmappable(70_000));
        assert_eq!(DOWN.id(5), 5);
        assert_eq!(DOWN.id(BASE + 65_536), OVERFLOW, "just past the range");
    }

    fn v3(root: u32) -> Vec<u8> {
        let mut v = (0x0300_0000u32 | 1).to_le_bytes().to_vec();
        v.extend_from_slice(&[0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        v.extend_from_slice(&root.to_le_bytes());
        v
    }

    #[test]
    fn file_capabilities_follow_the_root_they_are_for() {
        let unpriv = v3(BASE);
        let back = DOWN.capability(&unpriv).unwrap();
        assert_eq!(back.len(), 20, "host root: the v2 form");
        assert_eq!(
            u32::from_le_bytes(back[0..4].try_into().unwrap()),
            0x0200_0001
        );
        assert_eq!(&back[4..20], &unpriv[4..20], "the same capability sets");
        assert_eq!(UP.capability(&back).unwrap(), unpriv);
        assert_eq!(UP.capability(&unpriv).unwrap(), unpriv, "idempotent");
        assert_eq!(UP.capability(b"junk"), None);
    }

    #[test]
    fn acl_entries_for_named_users_and_groups_move() {
        let mut acl = 2u32.to_le_bytes().to_vec();
        for (tag, id) in [
            (0x01u16, u32::MAX),
            (0x02, 1000),
            (0x08, 1001),
            (0x20, u32::MAX),
        ] {
            acl.extend_from_slice(&tag.to_le_bytes());
            acl.extend_from_slice(&7u16.to_le_bytes());
            acl.extend_from_slice(&id.to_le_bytes());
        }
        let up = UP.acl(&acl).unwrap();
        let id_at =
            |v: &[u8], i: usize| u32::from_le_bytes(v[8 + 8 * i..12 + 8 * i].try_into().unwrap());
        assert_eq!(id_at(&up, 0), u32::MAX, "owner entry has no id");
        assert_eq!(id_at(&up, 1), BASE + 1000);
        assert_eq!(id_at(&up, 2), BASE + 1001);
        assert_eq!(DOWN.acl(&up).unwrap(), acl);
        assert_eq!(UP.acl(&acl[..7]), None);
    }

    #[test]
    fn overlay_metadata_is_renamed_for_the_side_that_mounts_it() {
        assert_eq!(
            UP.xattr_name(b"trusted.overlay.opaque").unwrap(),
            b"user.overlay.opaque"
        );
        assert_eq!(
            DOWN.xattr_name(b"user.overlay.redirect").unwrap(),
            b"trusted.overlay.redirect"
        );
        assert_eq!(
            UP.xattr_name(b"user.overlay.opaque"),
            None,
            "already renamed"
        );
        assert_eq!(UP.xattr_name(b"user.mime_type"), None);
    }
}
