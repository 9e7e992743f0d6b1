"""The "channels" figure: expected and actual [C, H, W] images as pixel grids (PNG data
URIs), channel by channel plus a colour composite, with words that compare them."""

from __future__ import annotations

import base64
import math
import operator
import struct
import zlib
from dataclasses import dataclass
from functools import cached_property
from itertools import compress, repeat
from typing import Any

from grader.reports.figures.svg import Figure, _c, _svg, _text
from grader.reports.figures.values import (
    CHANNEL_TOL,
    MAX_CHANNELS,
    MAX_ITEMS,
    MAX_PIXELS,
    MUTED,
    NAN,
    NAN_RGB,
    _caption,
    _clean,
    _floats,
    _fmt,
    _list,
    _plural,
    _spoken_list,
)


def _pixel(v: Any) -> float:
    """A value as a float: NaN when it is not a number, +-inf for giant ints."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return NAN
    try:
        return float(v)
    except OverflowError:  # as good as infinite: drawn clamped
        return math.inf if v > 0 else -math.inf


def _picks(size: int) -> list[int]:
    """Nearest-neighbour indices that downsample ``size`` to at most MAX_PIXELS."""
    if size <= MAX_PIXELS:
        return list(range(size))
    return [int((k + 0.5) * size / MAX_PIXELS) for k in range(MAX_PIXELS)]


@dataclass(frozen=True)
class _Grid:
    """One channel: its full size and the values drawn (downsampled when large), row by
    row, with NaN for NaN or anything that is not a number."""

    height: int
    width: int
    rows: int  # drawn
    cols: int
    flat: list[float]

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def downsampled(self) -> bool:
        return (self.rows, self.cols) != self.shape

    @cached_property
    def nan(self) -> list[int]:
        """Positions of NaN values (the map/any test keeps the common case at C speed)."""
        if not any(map(math.isnan, self.flat)):
            return []
        return [k for k, v in enumerate(self.flat) if v != v]

    @cached_property
    def in_range(self) -> bool:
        """All values in [0, 1] (min/max run in C; NaN would fool them, hence the check)."""
        return not self.nan and 0.0 <= min(self.flat) and max(self.flat) <= 1.0

    @cached_property
    def out_of_range(self) -> int:
        if self.in_range:
            return 0
        return sum(map(operator.lt, self.flat, repeat(0.0))) + sum(
            map(operator.gt, self.flat, repeat(1.0))
        )

    @cached_property
    def levels(self) -> bytes:
        """Values clamped to [0, 1] as bytes 0..255 (NaN becomes 0; it is painted over).
        A plain comprehension: several times faster than chained map(min/max) here."""
        if self.in_range:
            return bytes([int(v * 255.0 + 0.5) for v in self.flat])
        return bytes(
            [int(v * 255.0 + 0.5) if 0.0 <= v <= 1.0 else 255 if v > 1.0 else 0 for v in self.flat]
        )


def _grid(channel: Any) -> _Grid | None:
    """A rectangular, non-empty H x W list of lists, or None. Only the rows and columns
    that will be drawn are converted, so a huge grid costs little."""
    rows = _list(channel)
    if not rows or len(rows) > MAX_ITEMS:
        return None
    first = _list(rows[0])
    width = len(first) if first else 0
    if not 0 < width <= MAX_ITEMS:
        return None
    if not all(isinstance(r, (list, tuple)) and len(r) == width for r in rows):
        return None
    cols, picked_rows = _picks(width), _picks(len(rows))
    flat: list[Any] = []
    if len(cols) == width:
        for i in picked_rows:
            flat += rows[i]
    else:
        pick = operator.itemgetter(*cols)  # len(cols) == MAX_PIXELS > 1: returns tuples
        for i in picked_rows:
            flat += pick(rows[i])
    return _Grid(len(rows), width, len(picked_rows), len(cols), _floats(flat, _pixel))


@dataclass(frozen=True)
class _Image:
    """One row of the figure: the channels of a [C, H, W] value (None where invalid)."""

    channels: list[_Grid | None]
    total: int  # channels in the spec, including those not drawn

    @property
    def valid(self) -> list[_Grid]:
        return [g for g in self.channels if g is not None]

    @property
    def composable(self) -> bool:
        shapes = {g.shape for g in self.valid}
        return len(self.channels) == 3 and len(self.valid) == 3 and len(shapes) == 1


def _image(raw: Any) -> _Image | None:
    channels = _list(raw)
    if not channels:
        return None
    image = _Image([_grid(c) for c in channels[:MAX_CHANNELS]], len(channels))
    return image if image.valid else None


def _png(pixels: bytes | bytearray, width: int, height: int) -> bytes:
    """An 8-bit RGB PNG from packed RGB pixels, row by row (filter type 0 on each row)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + tag
            + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    stride = 3 * width
    raw = b"".join(b"\x00" + pixels[r * stride : (r + 1) * stride] for r in range(height))
    # A 4 KiB window and small memLevel: zlib's default set-up alone costs more than
    # compressing these few kilobytes, and compresses them no better.
    packer = zlib.compressobj(6, zlib.DEFLATED, 12, 4)
    data = packer.compress(raw) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def _rgb(red: _Grid, green: _Grid, blue: _Grid) -> bytes:
    """A PNG of three same-sized grids (one grid three times gives grey), NaN in magenta.
    Interleaving by strided slices keeps the per-pixel work in C."""
    pixels = bytearray(3 * len(red.flat))
    pixels[0::3], pixels[1::3], pixels[2::3] = red.levels, green.levels, blue.levels
    for k in {*red.nan, *green.nan, *blue.nan}:
        pixels[3 * k : 3 * k + 3] = NAN_RGB
    return _png(pixels, red.cols, red.rows)


CELL, GAP_X, ROW_LABEL = 96, 16, 76  # image box, space between boxes, row-label column


def _picture(png: bytes, grid: _Grid, col: int, top: float, label: str) -> list[str]:
    """An <image> fitted into the box of column ``col``, with an outline and a label."""
    scale = CELL / max(grid.rows, grid.cols)
    iw, ih = grid.cols * scale, grid.rows * scale
    x = ROW_LABEL + col * (CELL + GAP_X) + (CELL - iw) / 2
    y = top + (CELL - ih) / 2
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return [
        f'<image x="{_c(x)}" y="{_c(y)}" width="{_c(iw)}" height="{_c(ih)}" '
        f'preserveAspectRatio="none" style="image-rendering:pixelated" href="{uri}"/>',
        f'<rect x="{_c(x - 0.5)}" y="{_c(y - 0.5)}" width="{_c(iw + 1)}" height="{_c(ih + 1)}" '
        f'fill="none" stroke="{MUTED}"/>',
        _text(
            ROW_LABEL + col * (CELL + GAP_X) + CELL / 2,
            top + CELL + 15,
            label,
            anchor="middle",
            fill=MUTED,
        ),
    ]


def _channel_labels(raw: Any, count: int) -> list[str]:
    labels = _list(raw) or (["red", "green", "blue"] if count == 3 else [])
    out = []
    for c in range(count):
        label = _clean(labels[c], 16) if c < len(labels) else ""
        out.append(label or f"channel {c + 1}")
    return out


def draw(spec: dict, uid: str) -> Figure | None:
    rows = [
        (name, image)
        for name, image in (
            ("expected", _image(spec.get("expected"))),
            ("yours", _image(spec.get("got"))),
        )
        if image
    ]
    if not rows:
        return None
    count = max(len(image.channels) for _, image in rows)
    labels = _channel_labels(spec.get("labels"), count)
    composite = any(image.composable for _, image in rows)
    width = ROW_LABEL + (count + composite) * (CELL + GAP_X)
    height = 8 + len(rows) * (CELL + 28)

    body = []
    for r, (name, image) in enumerate(rows):
        top = 8 + r * (CELL + 28)
        body.append(_text(4, top + CELL / 2 + 4, name, size=13))
        if image.composable:
            red, green, blue = image.valid
            body += _picture(_rgb(red, green, blue), red, 0, top, "colour")
        for c, grid in enumerate(image.channels):
            col = c + composite
            if grid is None:
                body.append(
                    _text(
                        ROW_LABEL + col * (CELL + GAP_X) + CELL / 2,
                        top + CELL / 2,
                        "not drawn",
                        anchor="middle",
                        fill=MUTED,
                    )
                )
            else:
                body += _picture(_rgb(grid, grid, grid), grid, col, top, labels[c])

    caption = _caption(
        spec.get("title"),
        "The expected image and yours, channel by channel."
        if len(rows) == 2
        else "The image, channel by channel.",
    )
    description = _channel_words(dict(rows), labels)
    return Figure(_svg(uid, width, height, caption, description, body), caption, description)


def _shapes(image: _Image) -> set[tuple[int, int]]:
    return {g.shape for g in image.valid}


def _size_words(image: _Image) -> str:
    shapes = _shapes(image)
    if len(shapes) > 1:
        return "images of different sizes"
    h, w = next(iter(shapes))
    return f"{h} x {w} {'image' if len(image.valid) == 1 else 'images'}"


def _compare(expected: _Image, got: _Image) -> tuple[int, float, int]:
    """Channels that differ, the largest difference, channels compared (same-shaped
    pairs). NaN where the other has a number counts as a difference of unknown size."""
    differ, largest, compared = 0, 0.0, 0
    for e, g in zip(expected.channels, got.channels, strict=False):
        if e is None or g is None or e.shape != g.shape:
            continue
        compared += 1
        diffs = list(map(abs, map(operator.sub, e.flat, g.flat)))
        # Drop NaN differences (NaN on either side, or inf - inf): max() mishandles them.
        worst = max(compress(diffs, map(operator.eq, diffs, diffs)), default=0.0)
        differ += e.nan != g.nan or worst > CHANNEL_TOL
        largest = max(largest, worst)
    return differ, largest, compared


def _value_words(name: str, image: _Image) -> list[str]:
    """NaN, out-of-range, downsampling and invalid-channel notes for one row."""
    whose = "your" if name == "yours" else "the expected"
    nan = sum(len(g.nan) for g in image.valid)
    out = sum(g.out_of_range for g in image.valid)
    notes = []
    if nan:
        notes.append(
            f"{_plural(nan, 'value')} in {whose} image {'is' if nan == 1 else 'are'} "
            f"NaN or not a number, drawn in magenta."
        )
    if out:
        notes.append(
            f"{_plural(out, 'value')} in {whose} image {'lies' if out == 1 else 'lie'} "
            f"outside [0, 1] and {'is' if out == 1 else 'are'} drawn clamped."
        )
    big = next((g for g in image.valid if g.downsampled), None)
    if big:
        notes.append(
            f"{whose.capitalize()} {big.height} x {big.width} image is shown "
            f"downsampled to {big.rows} x {big.cols}"
            + (", so these counts cover the pixels shown." if nan or out else ".")
        )
    skipped = image.total - len(image.valid)
    if skipped:
        notes.append(
            f"{_plural(skipped, 'channel')} of {whose} image "
            f"{'is' if skipped == 1 else 'are'} not drawn (not a rectangular grid of "
            f"numbers, or beyond the first {MAX_CHANNELS})."
        )
    return notes


def _channel_phrase(labels: list[str]) -> str:
    """'its red, green and blue channels', 'its single channel, depth', 'its 8 channels'."""
    if len(labels) == 1:
        return f"its single channel, {labels[0]}"
    if len(labels) <= 4:
        return f"its {_spoken_list(labels)} channels"
    return f"its {len(labels)} channels"


def _channel_words(rows: dict[str, _Image], labels: list[str]) -> str:
    expected, got = rows.get("expected"), rows.get("yours")
    names = _channel_phrase(labels)
    if expected and got:
        head = _comparison_words(expected, got, names)
    elif got:
        head = (
            f"Your result as {_size_words(got)} with {names} (no expected result to compare with)."
        )
    else:
        assert expected is not None  # draw only passes rows it could read
        head = (
            f"The expected result as {_size_words(expected)} with {names} (no result "
            f"of yours to compare with)."
        )
    notes = [n for name, image in rows.items() for n in _value_words(name, image)]
    return " ".join([head, *notes])


def _comparison_words(expected: _Image, got: _Image, names: str) -> str:
    if _shapes(expected) != _shapes(got) or expected.total != got.total:
        return (
            f"Your result ({_size_words(got)}, {_plural(got.total, 'channel')}) and the "
            f"expected one ({_size_words(expected)}, {_plural(expected.total, 'channel')}) "
            f"differ in shape, so they are not compared value by value."
        )
    head = f"Expected and your result as {_size_words(got)}, each with {names}"
    differ, largest, compared = _compare(expected, got)
    if not compared:
        return head + "."
    if not differ:
        return (
            f"{head}: all {_plural(compared, 'channel')} match the expected ones to within "
            f"{_fmt(CHANNEL_TOL)}."
        )
    one = differ == 1
    return (
        f"{head}: {_plural(differ, 'channel')} of {compared} {'differs' if one else 'differ'} "
        f"from the expected {'one' if one else 'ones'} (the largest difference is "
        f"{_fmt(largest)})."
    )
