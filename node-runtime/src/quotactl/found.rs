//! A running container as the broker serves it ([`Container`]), read from the kernel: its
//! init's id maps and user namespace, and the names its own mount table gives its disk.

use std::io;
use std::path::Path;

use super::decide::Container;
use super::ids::IdMap;

impl Container {
    /// The container whose init is host pid `init`, with its disk on the host's loop device
    /// `device`. The disk's names are the sources of the mounts in init's mount table whose
    /// device number is the disk's (`/dev/loop7` for a mount of the disk itself): a name a
    /// process made up for another mount (a tmpfs called `/dev/loop7`) has another number.
    pub fn of(init: i32, device: &Path) -> io::Result<Container> {
        let proc = Path::new("/proc").join(init.to_string());
        let disk_dev = nix::sys::stat::stat(device)?.st_rdev;
        let mountinfo = std::fs::read_to_string(proc.join("mountinfo"))?;
        let map = |file: &str| -> io::Result<IdMap> {
            IdMap::parse(&std::fs::read_to_string(proc.join(file))?)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        };
        Ok(Container {
            disk_names: disk_names(&mountinfo, disk_dev),
            disk_dev,
            userns: userns_of(&proc.join("ns/user"))?,
            uids: map("uid_map")?,
            gids: map("gid_map")?,
        })
    }
}

/// The sources of the mounts in `mountinfo` whose device is `dev`, each once.
pub fn disk_names(mountinfo: &str, dev: u64) -> Vec<Vec<u8>> {
    let wanted = format!(
        "{}:{}",
        nix::sys::stat::major(dev),
        nix::sys::stat::minor(dev)
    );
    let mut names: Vec<Vec<u8>> = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(source) = right.split_whitespace().nth(1) else {
            continue;
        };
        let name = source.as_bytes().to_vec();
        if left.split_whitespace().nth(2) == Some(wanted.as_str()) && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The inode of a `ns/user` link (`user:[4026531837]`).
pub fn userns_of(link: &Path) -> io::Result<u64> {
    let target = std::fs::read_link(link)?;
    target
        .to_str()
        .and_then(|t| t.strip_prefix("user:[")?.strip_suffix(']')?.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a user namespace link"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disks_names_are_its_mounts_sources_by_device_number() {
        let info = "22 1 7:3 / / rw - ext4 /dev/loop3 rw,usrquota\n\
                    23 22 7:3 /upper /home rw - ext4 /dev/loop3 rw\n\
                    24 22 0:40 / /fake rw - tmpfs /dev/loop3 rw\n\
                    25 22 7:4 / /other rw - ext4 /dev/loop4 rw\n\
                    26 22 0:41 / / rw - overlay overlay rw\n";
        let dev = nix::sys::stat::makedev(7, 3);
        assert_eq!(disk_names(info, dev), [b"/dev/loop3".to_vec()]);
        assert!(disk_names(info, nix::sys::stat::makedev(7, 9)).is_empty());
    }

    #[test]
    fn a_running_process_is_read_from_proc() {
        let Some(disk) = crate::disk::test_support::TestDisk::new(32 << 20, 1024) else {
            return;
        };
        let device = disk.image.device().unwrap().expect("attached");
        let c = Container::of(std::process::id() as i32, &device).unwrap();
        assert_eq!(
            c.disk_names,
            [device.as_os_str().as_encoded_bytes().to_vec()]
        );
        assert_eq!(
            c.userns,
            userns_of(Path::new("/proc/self/ns/user")).unwrap()
        );
        assert_eq!(c.uids.to_host(0), Some(0));
    }
}
