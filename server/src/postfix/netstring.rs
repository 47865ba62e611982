//! Netstrings (D. J. Bernstein's `len:data,`), the framing of Postfix's socketmap protocol
//! (socketmap_table(5)): read with a bound on the length, so a client cannot make the server
//! buffer without end, and written in one piece.

use tokio::io::{AsyncBufRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why a netstring could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NetstringError {
    /// The connection failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// Not a netstring: a length that is not digits, or no `,` after the data.
    #[error("malformed netstring: {0}")]
    Malformed(&'static str),
    /// Longer than allowed.
    #[error("netstring of {0} bytes is longer than allowed")]
    TooLong(usize),
}

/// The most digits a length may have (a length of up to 10^7 - 1 bytes).
const MAX_DIGITS: usize = 7;

/// Reads one netstring of at most `max` bytes of data; `None` at a clean end of the stream
/// (before the first byte).
pub async fn read<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> Result<Option<Vec<u8>>, NetstringError> {
    let mut digits = Vec::with_capacity(MAX_DIGITS + 1);
    loop {
        let mut byte = [0u8; 1];
        if reader.read(&mut byte).await? == 0 {
            if digits.is_empty() {
                return Ok(None);
            }
            return Err(NetstringError::Malformed("the stream ended in the length"));
        }
        match byte[0] {
            b':' if !digits.is_empty() => break,
            b'0'..=b'9' if digits.len() < MAX_DIGITS => digits.push(byte[0]),
            b'0'..=b'9' => return Err(NetstringError::Malformed("length too long")),
            _ => return Err(NetstringError::Malformed("length is not digits")),
        }
    }
    // Digits only, at most seven: always a number.
    let len: usize = std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or(NetstringError::Malformed("length is not a number"))?;
    if len > max {
        return Err(NetstringError::TooLong(len));
    }
    let mut data = vec![0u8; len];
    reader.read_exact(&mut data).await?;
    let mut comma = [0u8; 1];
    reader.read_exact(&mut comma).await?;
    if comma[0] != b',' {
        return Err(NetstringError::Malformed("no comma after the data"));
    }
    Ok(Some(data))
}

/// Writes `data` as one netstring.
pub async fn write<W: AsyncWrite + Unpin>(writer: &mut W, data: &[u8]) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(data.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(data);
    out.push(b',');
    writer.write_all(&out).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn one(input: &[u8], max: usize) -> Result<Option<Vec<u8>>, NetstringError> {
        let mut r = tokio::io::BufReader::new(input);
        read(&mut r, max).await
    }

    #[tokio::test]
    async fn netstrings_are_read_within_their_bounds() {
        assert_eq!(one(b"5:hello,", 10).await.unwrap(), Some(b"hello".to_vec()));
        assert_eq!(one(b"0:,", 10).await.unwrap(), Some(Vec::new()));
        assert_eq!(one(b"", 10).await.unwrap(), None);
        assert!(matches!(
            one(b"11:hello world,", 10).await,
            Err(NetstringError::TooLong(11))
        ));
        assert!(matches!(
            one(b"5:hello;", 10).await,
            Err(NetstringError::Malformed(_))
        ));
        assert!(matches!(
            one(b"x:", 10).await,
            Err(NetstringError::Malformed(_))
        ));
        assert!(matches!(
            one(b":", 10).await,
            Err(NetstringError::Malformed(_))
        ));
        assert!(matches!(
            one(b"99999999:", usize::MAX).await,
            Err(NetstringError::Malformed(_))
        ));
        assert!(matches!(one(b"5:he", 10).await, Err(NetstringError::Io(_))));
        // Two pipelined requests are read one after the other.
        let mut r = tokio::io::BufReader::new(&b"1:a,1:b,"[..]);
        assert_eq!(read(&mut r, 5).await.unwrap(), Some(b"a".to_vec()));
        assert_eq!(read(&mut r, 5).await.unwrap(), Some(b"b".to_vec()));
    }

    #[tokio::test]
    async fn a_netstring_is_written_with_its_length() {
        let mut out = Vec::new();
        write(&mut out, b"OK dane-only").await.unwrap();
        assert_eq!(out, b"12:OK dane-only,");
    }
}
