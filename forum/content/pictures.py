"""Profile pictures: whatever was uploaded is decoded and drawn again at a small size, so
what is kept is pixels only. No metadata survives (EXIF with a phone's GPS position, text
chunks, colour profiles, comments): Pillow writes none unless asked to."""

from __future__ import annotations

from io import BytesIO

from PIL import Image, ImageOps

from forum.errors import BadRequest

SIDE = 256  # the largest a picture is kept at, in pixels, either way
# Larger images are refused before they are decoded: a small file can claim a huge canvas
# (a "decompression bomb"), and a PNG is decoded whole. A JPEG is decoded at a reduced
# scale (draft), so a phone's 24-megapixel photo costs a few megabytes, not a hundred.
MAX_PIXELS = 25_000_000
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
            orientation = image.getexif().get(0x0112)  # how the phone held it
            if image.format == "JPEG":
                image.draft("RGB", (SIDE * 2, SIDE * 2))
            image.thumbnail((SIDE, SIDE))
            small: Image.Image = image
            if orientation:
                exif = Image.Exif()
                exif[0x0112] = orientation
                image.info["exif"] = exif.tobytes()
                small = ImageOps.exif_transpose(image)  # upright; the EXIF goes with it
            transparent = small.mode in ("RGBA", "LA", "PA") or (
                small.mode == "P" and "transparency" in small.info
            )
            out = BytesIO()
            if transparent:
                small.convert("RGBA").save(out, "PNG", optimize=True)
                return out.getvalue(), "image/png"
            small.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
            return out.getvalue(), "image/jpeg"
    except BadRequest:
        raise
    except Exception:
        raise BadRequest(UNREADABLE) from None


def content_type_of(data: bytes) -> str:
    """A kept picture's type (only ever one reencode wrote)."""
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
