"""Which attachments of a mail we keep: photos and PDFs, judged by their bytes.

The declared Content-Type and the filename are the sender's claims; the type that counts
is sniffed from the magic bytes. Archives are never opened (so a zip bomb costs nothing):
they are refused as such. Filenames are reduced to a safe ASCII subset, because an operator
downloads these files and a name like ``..\\..\\evil.exe`` or one with a bidi override must
not survive.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from email.message import Message

from channels.email.decode import decode_words, one_line, part_bytes, part_disposition, part_filename, part_type

__all__ = ["DEFAULT_ALLOWED_TYPES", "ParsedAttachment", "collect_attachments", "sanitize_filename", "sniff_type"]

DEFAULT_ALLOWED_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "application/pdf"})
MAX_FILENAME_CHARS = 100

# Parts that are report machinery or signatures, never something the citizen attached.
_NOT_ATTACHMENTS = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "text/rfc822-headers",
        "message/rfc822-headers",
        "message/disposition-notification",
        "message/feedback-report",
        "application/pgp-signature",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
    }
)
_EXTENSIONS = {
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
}
_ARCHIVE_MAGIC = (
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"PK\x07\x08",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\x28\xb5\x2f\xfd",
    b"MSCF",
    b"LZIP",
    b"\x1f\x9d",
    b"\x1f\xa0",
)
_ARCHIVE_TYPES = re.compile(
    r"^application/(?:x-)?(?:zip|zip-compressed|gzip|gtar|tar|7z-compressed|rar|rar-compressed|vnd\.rar|bzip2?"
    r"|xz|zstd|compress|compressed|lzip|lzma|cab-compressed|vnd\.ms-cab-compressed|java-archive|archive)$"
)
_ARCHIVE_EXTENSIONS = re.compile(
    r"\.(?:zip|gz|tgz|tar|rar|7z|bz2|tbz2?|xz|txz|zst|z|lz|lzma|cab|jar|arj|ace|iso)$", re.IGNORECASE
)
# Office documents are zip files inside, but to the citizen they are documents, not archives.
_OFFICE_EXTENSIONS = re.compile(r"\.(?:docx|xlsx|pptx|odt|ods|odp)$", re.IGNORECASE)
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._ -]+")


@dataclass(frozen=True, slots=True)
class ParsedAttachment:
    """An accepted attachment: the bytes and what we know about them."""

    data: bytes
    filename: str
    """Sanitised: ``[A-Za-z0-9._ -]`` only, at most 100 characters, extension matching the type."""
    content_type: str
    """Sniffed from the bytes (the declared type is only a hint)."""
    declared_type: str
    sha256: str

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)


def sniff_type(data: bytes) -> str | None:
    """The content type of ``data`` from its magic bytes (JPEG, PNG, GIF, WebP, PDF, and
    HEIC/MP4 so a refusal can name them), or None when it is none of those."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "image/heic"
        return "video/mp4"
    return None


def _is_archive(data: bytes, declared: str, filename: str) -> bool:
    """An archive by its magic bytes, declared type or extension (we never open one)."""
    if data.startswith(_ARCHIVE_MAGIC) and not (data.startswith(b"PK") and _OFFICE_EXTENSIONS.search(filename)):
        return True
    if len(data) > 262 and data[257:262] == b"ustar":
        return True
    return bool(_ARCHIVE_TYPES.match(declared) or _ARCHIVE_EXTENSIONS.search(filename))


def sanitize_filename(name: str | None, content_type: str | None = None) -> str:
    """A safe file name: RFC 2047 decoded, last path component only, accents folded, only
    ``[A-Za-z0-9._ -]`` kept (others become ``_``), no leading dots, at most 100 characters,
    never empty ("attachment"), and ending in an extension that fits ``content_type``."""
    text = one_line(decode_words(name or ""))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = re.sub(r"_+", "_", _UNSAFE_FILENAME.sub("_", text)).strip(" .")
    text = text or "attachment"
    extensions = _EXTENSIONS.get(content_type or "")
    if extensions and not text.lower().endswith(extensions):
        text += extensions[0]
    if len(text) > MAX_FILENAME_CHARS:
        stem, dot, ext = text.rpartition(".")
        ext = dot + ext if dot and len(ext) <= 10 else ""
        text = (stem if ext else text)[: MAX_FILENAME_CHARS - len(ext)].rstrip(" .") + ext
    return text


def collect_attachments(
    leaves: list[Message],
    *,
    skip: set[int],
    in_report: bool,
    max_bytes: int,
    max_count: int,
    allowed: frozenset[str],
    problems: list[str],
) -> tuple[tuple[ParsedAttachment, ...], tuple[tuple[str, str], ...]]:
    """Accept or refuse each leaf part that is not body text (``skip`` holds the ids of the
    body parts). Returns the accepted attachments and ``(filename, reason)`` refusals."""
    accepted: list[ParsedAttachment] = []
    rejected: list[tuple[str, str]] = []
    for part in leaves:
        ctype = part_type(part)
        raw_name = part_filename(part)
        if id(part) in skip or ctype in _NOT_ATTACHMENTS or (in_report and ctype.startswith("message/")):
            continue
        if ctype.startswith("text/") and not raw_name and part_disposition(part) != "attachment":
            continue  # the HTML twin of the chosen plain text, or an empty text part
        name = sanitize_filename(raw_name)
        reason, data, sniffed = None, b"", None
        if len(accepted) >= max_count:
            reason = f"too many attachments (limit {max_count})"
        elif ctype.startswith(("message/", "multipart/")):
            reason = f"type not allowed ({ctype})"  # an attached mail is not opened
        elif (decoded := part_bytes(part, problems)) is None:
            reason = "undecodable"
        elif not (data := decoded):
            reason = "empty file"
        elif _is_archive(data, ctype, name):
            reason = "archive not accepted"
        elif len(data) > max_bytes:
            reason = f"too large ({len(data)} bytes, limit {max_bytes})"
        elif (sniffed := sniff_type(data)) not in allowed:
            reason = f"type not allowed ({sniffed or ctype + ', content not recognised'})"
        if reason or sniffed is None:
            rejected.append((name, reason or "type not allowed"))
            continue
        accepted.append(
            ParsedAttachment(
                data=data,
                filename=sanitize_filename(raw_name, sniffed),
                content_type=sniffed,
                declared_type=ctype,
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    return tuple(accepted), tuple(rejected)
