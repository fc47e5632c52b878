"""Profile pictures: whatever was uploaded is decoded and drawn again at a small size, so
what is kept is pixels only. No metadata survives (EXIF with a phone's GPS position, text
chunks, colour profiles, comments): Pillow writes none unless asked to."""

from __future__ import annotations

from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

from forum.errors import BadRequest

SIDE = 256  # the largest a picture is kept at, in pixels, either way
MAX_PIXELS = 40_000_000  # larger images are refused unread (a "decompression bomb" guard)
FORMATS = ("JPEG", "PNG", "WEBP")
UNREADABLE = "This picture cannot be used. Choose a JPEG, PNG or WebP image."


def reencode(data: bytes) -> tuple[bytes, str]:
    """The picture redrawn at most SIDE pixels wide and high: (bytes, content type), PNG if
    it has transparency, else JPEG. BadRequest for anything that is not such an image."""
    try:
        with Image.open(BytesIO(data)) as image:
            if image.format not in FORMATS:
                raise BadRequest(UNREADABLE)
            if image.width * image.height > MAX_PIXELS:
                raise BadRequest("This picture is too large to use. Choose a smaller one.")
            upright = ImageOps.exif_transpose(image)  # as the phone showed it, then EXIF goes
            upright.thumbnail((SIDE, SIDE))
            out = BytesIO()
            transparent = upright.mode in ("RGBA", "LA", "PA") or (
                upright.mode == "P" and "transparency" in upright.info
            )
            if transparent:
                upright.convert("RGBA").save(out, "PNG", optimize=True)
                return out.getvalue(), "image/png"
            upright.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
            return out.getvalue(), "image/jpeg"
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        raise BadRequest(UNREADABLE) from None


def content_type_of(data: bytes) -> str:
    """A kept picture's type (only ever one reencode wrote)."""
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
