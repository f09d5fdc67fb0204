//! The few things the CLI asks the system directly: the terminal width (for `ls`
//! columns), POSIX regular expressions (`ls --filter`, the same dialect LXC uses), and
//! who we run as.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::AsRawFd;

/// Columns of the terminal on stdout, else stderr, else stdin; 0 when none is a
/// terminal (as lxc-ls).
pub fn term_width() -> usize {
    for fd in [
        std::io::stdout().as_raw_fd(),
        std::io::stderr().as_raw_fd(),
        std::io::stdin().as_raw_fd(),
    ] {
        if let Some(w) = winsize_cols(fd) {
            return w;
        }
    }
    0
}

/// TIOCGWINSZ on `fd`. Some(cols) when it is a terminal with a non-zero width.
fn winsize_cols(fd: i32) -> Option<usize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` to the pointer, which points to a
    // properly sized and aligned local; on a non-terminal fd it fails with ENOTTY and
    // writes nothing.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws as *mut libc::winsize) };
    (rc == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

pub fn stdout_is_terminal() -> bool {
    nix::unistd::isatty(std::io::stdout().as_raw_fd()).unwrap_or(false)
}

pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// A compiled POSIX extended regular expression (regcomp(3) with REG_EXTENDED|REG_NOSUB),
/// so `lxc-ls --filter` matches exactly what LXC matches.
pub struct PosixRegex {
    re: Box<libc::regex_t>,
}

impl PosixRegex {
    pub fn new(pattern: &str) -> Result<PosixRegex, String> {
        let c = CString::new(pattern).map_err(|_| {
            format!("invalid regular expression \"{pattern}\": it contains a NUL byte")
        })?;
        // SAFETY: regex_t is a plain C struct that regcomp fully initialises; zeroed
        // memory is a valid (unused) value for it until then.
        let mut re: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: `re` points to writable memory for one regex_t; `c` is NUL-terminated
        // and outlives the call.
        let rc =
            unsafe { libc::regcomp(&mut *re, c.as_ptr(), libc::REG_EXTENDED | libc::REG_NOSUB) };
        if rc != 0 {
            let mut buf = [0u8; 256];
            // SAFETY: regerror writes at most buf.len() bytes, NUL-terminated, for the
            // error code regcomp returned on this regex_t. On failure regcomp leaves
            // nothing that needs regfree.
            unsafe { libc::regerror(rc, &*re, buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
            let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
            return Err(format!(
                "invalid regular expression \"{pattern}\": {}; use POSIX extended syntax, e.g. '^web[0-9]+$'",
                String::from_utf8_lossy(&buf[..end])
            ));
        }
        Ok(PosixRegex { re })
    }

    pub fn is_match(&self, text: &str) -> bool {
        let Ok(c) = CString::new(text) else {
            return false;
        };
        // SAFETY: `re` was initialised by a successful regcomp; with REG_NOSUB no match
        // array is written (nmatch 0, pmatch null); `c` is NUL-terminated.
        unsafe { libc::regexec(&*self.re, c.as_ptr(), 0, std::ptr::null_mut(), 0) == 0 }
    }
}

impl Drop for PosixRegex {
    fn drop(&mut self) {
        // SAFETY: `re` was initialised by a successful regcomp and is freed once.
        unsafe { libc::regfree(&mut *self.re) }
    }
}

/// Writes to stdout, ignoring a closed pipe (`hako ls | head`).
pub fn print_out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

pub fn print_err(s: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_regex() {
        let re = PosixRegex::new("^web[0-9]+$").unwrap();
        assert!(re.is_match("web1"));
        assert!(re.is_match("web42"));
        assert!(!re.is_match("web"));
        assert!(!re.is_match("aweb1"));
        // unanchored, as regexec: a substring match is enough
        let re = PosixRegex::new("eb").unwrap();
        assert!(re.is_match("web"));
        // ERE alternation and groups
        let re = PosixRegex::new("^(db|web)-(a|b)$").unwrap();
        assert!(re.is_match("db-a") && re.is_match("web-b") && !re.is_match("db-c"));
        let e = PosixRegex::new("web(").err().unwrap();
        assert!(e.contains("invalid regular expression \"web(\""), "{e}");
    }

    #[test]
    fn no_terminal_width_for_a_pipe() {
        let (r, w) = nix::unistd::pipe().unwrap();
        assert_eq!(winsize_cols(r.as_raw_fd()), None);
        assert_eq!(winsize_cols(w.as_raw_fd()), None);
    }
}
