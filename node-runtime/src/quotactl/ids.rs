//! A user namespace's id map (`/proc/PID/uid_map`, `gid_map`: `inside outside count` lines, the
//! outside ids in the reader's namespace, here the host's) and the two directions through it.

/// One line of a map: `count` ids from `inside` map onto as many from `outside`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Extent {
    inside: u32,
    outside: u32,
    count: u32,
}

/// The id map of a container's user namespace, as the kernel wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdMap {
    extents: Vec<Extent>,
}

impl IdMap {
    /// Parses a map file's text; an error names the line that is not three numbers.
    pub fn parse(text: &str) -> Result<IdMap, String> {
        let mut extents = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let numbers: Vec<u32> = line
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| format!("id map line {line:?} is not three numbers"))?;
            let [inside, outside, count] = numbers[..] else {
                return Err(format!("id map line {line:?} is not three numbers"));
            };
            extents.push(Extent {
                inside,
                outside,
                count,
            });
        }
        Ok(IdMap { extents })
    }

    /// The host id of `inside`, or `None` when the namespace does not map it.
    pub fn to_host(&self, inside: u32) -> Option<u32> {
        self.extents.iter().find_map(|e| {
            let offset = inside.checked_sub(e.inside).filter(|o| *o < e.count)?;
            e.outside.checked_add(offset)
        })
    }

    /// The id inside of host id `host`, or `None` when no inside id maps onto it.
    pub fn to_inside(&self, host: u32) -> Option<u32> {
        self.extents.iter().find_map(|e| {
            let offset = host.checked_sub(e.outside).filter(|o| *o < e.count)?;
            e.inside.checked_add(offset)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_inside_the_range_only_both_ways() {
        let map = IdMap::parse("         0     100000      65536\n").unwrap();
        assert_eq!(map.to_host(0), Some(100000));
        assert_eq!(map.to_host(1000), Some(101000));
        assert_eq!(map.to_host(65535), Some(165535));
        assert_eq!(map.to_host(65536), None, "one past the range");
        assert_eq!(map.to_host(u32::MAX), None);
        assert_eq!(map.to_inside(101000), Some(1000));
        assert_eq!(map.to_inside(99999), None);
        assert_eq!(map.to_inside(165536), None, "the next container's range");
        assert_eq!(map.to_inside(0), None, "host root is no one inside");
    }

    #[test]
    fn a_privileged_container_maps_every_id_onto_itself() {
        let map = IdMap::parse("0 0 4294967295\n").unwrap();
        assert_eq!(map.to_host(1000), Some(1000));
        assert_eq!(map.to_inside(0), Some(0));
    }

    #[test]
    fn several_extents_and_bad_lines() {
        let map = IdMap::parse("0 200000 1\n1000 201000 10\n").unwrap();
        assert_eq!(map.to_host(0), Some(200000));
        assert_eq!(map.to_host(1), None);
        assert_eq!(map.to_host(1009), Some(201009));
        assert_eq!(map.to_inside(201005), Some(1005));
        assert!(IdMap::parse("0 1\n").is_err());
        assert!(IdMap::parse("0 x 1\n").is_err());
        assert_eq!(IdMap::parse("").unwrap().to_host(0), None);
    }
}
