//! Just enough ELF to tell a static executable from a dynamic one: a dynamically linked
//! program has a PT_INTERP program header naming its loader.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const PT_INTERP: u32 = 3;

#[derive(Debug, PartialEq, Eq)]
pub enum Linkage {
    Static,
    Dynamic,
}

/// Reads the ELF header and program headers of `path`. Errors are plain strings for the
/// caller to put into its own message.
pub fn linkage(path: &Path) -> Result<Linkage, String> {
    let mut f = File::open(path).map_err(|e| crate::error::cause(&e))?;
    let mut h = [0u8; 64];
    let n = read_up_to(&mut f, &mut h).map_err(|e| crate::error::cause(&e))?;
    if n < 52 || &h[..4] != b"\x7fELF" {
        return Err("it is not an ELF executable".to_string());
    }
    let is64 = match h[4] {
        1 => false,
        2 => true,
        _ => return Err("it has an unknown ELF class".to_string()),
    };
    let le = match h[5] {
        1 => true,
        2 => false,
        _ => return Err("it has an unknown ELF byte order".to_string()),
    };
    if is64 && n < 64 {
        return Err("its ELF header is truncated".to_string());
    }
    let u16_at = |b: &[u8], o: usize| {
        let a = [b[o], b[o + 1]];
        if le {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    };
    let u32_at = |b: &[u8], o: usize| {
        let a = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let u64_at = |b: &[u8], o: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[o..o + 8]);
        if le {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    };
    let (phoff, phentsize, phnum) = if is64 {
        (
            u64_at(&h, 0x20),
            u16_at(&h, 0x36) as u64,
            u16_at(&h, 0x38) as u64,
        )
    } else {
        (
            u32_at(&h, 0x1c) as u64,
            u16_at(&h, 0x2a) as u64,
            u16_at(&h, 0x2c) as u64,
        )
    };
    if phnum == 0 {
        return Ok(Linkage::Static);
    }
    if phentsize < 4 || phnum > 4096 {
        return Err("its ELF program headers are malformed".to_string());
    }
    let mut table = vec![0u8; (phentsize * phnum) as usize];
    f.seek(SeekFrom::Start(phoff))
        .map_err(|e| crate::error::cause(&e))?;
    f.read_exact(&mut table)
        .map_err(|_| "its ELF program headers are truncated".to_string())?;
    for i in 0..phnum as usize {
        if u32_at(&table, i * phentsize as usize) == PT_INTERP {
            return Ok(Linkage::Dynamic);
        }
    }
    Ok(Linkage::Static)
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_binaries() {
        // /bin/sh on Debian is dash, dynamically linked
        assert_eq!(linkage(Path::new("/bin/sh")).unwrap(), Linkage::Dynamic);
        // busybox-static is installed on the development machines and in CI
        let bb = Path::new("/bin/busybox");
        if bb.exists() {
            assert_eq!(linkage(bb).unwrap(), Linkage::Static);
        }
    }

    #[test]
    fn not_elf() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("script");
        std::fs::write(&p, "#!/bin/sh\necho hi\n").unwrap();
        assert!(linkage(&p).unwrap_err().contains("not an ELF"));
        assert!(linkage(&d.path().join("missing"))
            .unwrap_err()
            .contains("no such file"));
    }

    /// A hand-made 64-bit little-endian header with two program headers, the second of
    /// which is PT_INTERP; then the same with it changed to PT_LOAD.
    #[test]
    fn synthetic_headers() {
        let mut img = vec![0u8; 64 + 2 * 56];
        img[..4].copy_from_slice(b"\x7fELF");
        img[4] = 2;
        img[5] = 1;
        img[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        img[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        img[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        img[64..68].copy_from_slice(&1u32.to_le_bytes());
        img[120..124].copy_from_slice(&PT_INTERP.to_le_bytes());
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("elf");
        std::fs::write(&p, &img).unwrap();
        assert_eq!(linkage(&p).unwrap(), Linkage::Dynamic);
        img[120..124].copy_from_slice(&1u32.to_le_bytes());
        std::fs::write(&p, &img).unwrap();
        assert_eq!(linkage(&p).unwrap(), Linkage::Static);
        // truncated table
        std::fs::write(&p, &img[..100]).unwrap();
        assert!(linkage(&p).unwrap_err().contains("truncated"));
    }
}
