"""A carpet-plot sample of one run: voxel (or grayordinate) signals grouped by network.

A carpet plot (a "grayplot") draws every voxel's time series as a row of grey
levels, volumes left to right, so that motion, respiration and scanner
artefacts show as vertical bands across the brain (Power 2017; Power et al.
2014). fMRIPrep and XCP-D draw one in their reports, rows grouped by tissue or
segment (cortical and deep grey matter, cerebellum, white matter and CSF); here
rows are grouped by the atlas's networks, then regions, with the in-mask voxels
outside every region last, and a sample of rows keeps the plot and its file
small.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dmnpharm.atlases import Atlas
from dmnpharm.atlases._cifti import LOAD_ERRORS, read_dlabel
from dmnpharm.exceptions import InputError
from dmnpharm.extract._cifti import _chunk, _Dense, _open_dense, match_grayordinates
from dmnpharm.extract._nifti import default_chunk_volumes, iter_columns, read_layout
from dmnpharm.extract._regions import label_members, read_mask, sphere_members
from dmnpharm.extract._timeseries import _positive

__all__ = ["OUTSIDE_ATLAS", "Carpet", "carpet_sample"]

#: The network name of rows inside the brain mask but in no atlas region.
OUTSIDE_ATLAS = "outside atlas"
#: The largest share of a carpet's rows given to voxels outside every region.
OUTSIDE_SHARE = 0.25

#: Two selected grayordinates closer than this (stored bytes between them) are read together.
_GAP_BYTES = 1 << 16

#: A row whose detrended SD is below this fraction of its largest value is taken as constant.
_FLAT = 1e-9

Rows = npt.NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class Carpet:
    """A sample of one run's voxel signals, ready to draw as a carpet plot.

    Parameters
    ----------
    data : numpy.ndarray
        ``rows x volumes`` float32 (read-only), NaN-free: each row one voxel's
        (or grayordinate's) signal, linearly detrended and z-scored over the
        run (population SD). Rows with a non-finite value, and constant rows,
        are all zeros.
    networks : tuple of str
        The network of each row's region (a code of
        :data:`dmnpharm.atlases.NETWORKS`), or ``"outside atlas"`` for rows
        in the brain mask (or, in CIFTI, among the grayordinates) but in no
        region. Rows of a network are contiguous.
    source : str
        The BOLD file sampled.
    regions : tuple of str
        The region label of each row (``"outside atlas"`` as for
        ``networks``); empty when not known.
    """

    data: npt.NDArray[np.float32]
    networks: tuple[str, ...]
    source: str
    regions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Check the sizes agree and make the data read-only."""
        if self.data.ndim != 2 or self.data.shape[0] != len(self.networks):
            raise ValueError(
                f"data of shape {self.data.shape} does not have one row per network entry "
                f"({len(self.networks)})"
            )
        if self.regions and len(self.regions) != len(self.networks):
            raise ValueError("regions needs one label per row, or none")
        self.data.flags.writeable = False

    @property
    def n_rows(self) -> int:
        """Number of rows (sampled voxels or grayordinates)."""
        return int(self.data.shape[0])

    @property
    def n_volumes(self) -> int:
        """Number of volumes (columns)."""
        return int(self.data.shape[1])


@dataclass(frozen=True)
class _Group:
    """The rows of one region (or of the voxels outside every region)."""

    network: str
    label: str
    members: Rows


def _network_order(atlas: Atlas) -> list[str]:
    """Return the atlas's networks in order of first appearance, DMN first."""
    order = list(dict.fromkeys(atlas.networks))
    if "DMN" in order:
        order.remove("DMN")
        order.insert(0, "DMN")
    return order


def _groups(atlas: Atlas, members: list[Rows], outside: Rows | None, size: int) -> list[_Group]:
    """Regions grouped by network, then in atlas order, then the rest; each element once.

    A voxel in several regions (overlapping spheres) goes to the first of them
    in this order. ``outside`` lists the candidates for the last group
    (``"outside atlas"``); ``size`` bounds the element indices.
    """
    owned = np.zeros(size, dtype=np.bool_)
    groups = []
    for network in _network_order(atlas):
        for index in np.flatnonzero(np.asarray(atlas.networks) == network):
            member = np.sort(members[index])  # spheres list theirs in nilearn's search order
            mine = member[~owned[member]]
            owned[mine] = True
            groups.append(_Group(network, atlas.labels[index], mine))
    if outside is not None:
        groups.append(_Group(OUTSIDE_ATLAS, OUTSIDE_ATLAS, outside[~owned[outside]]))
    return [g for g in groups if g.members.size]


def _allocate(sizes: npt.NDArray[np.intp], max_rows: int) -> npt.NDArray[np.intp]:
    """Rows per group in proportion to its size, summing to ``max_rows`` (largest remainders)."""
    total = int(sizes.sum())
    if total <= max_rows:
        return sizes.copy()
    quota = sizes * (max_rows / total)
    counts = np.floor(quota).astype(np.intp)
    extra = max_rows - int(counts.sum())
    if extra > 0:
        counts[np.argsort(-(quota - counts), kind="stable")[:extra]] += 1
    allocated: npt.NDArray[np.intp] = np.minimum(counts, sizes)
    return allocated


def _counts(
    sizes: npt.NDArray[np.intp], groups: list[_Group], max_rows: int
) -> npt.NDArray[np.intp]:
    """Rows per group: the outside group at most :data:`OUTSIDE_SHARE`, the regions the rest.

    In a brain mask most voxels lie outside a sphere atlas's regions; in proportion
    they would take nearly every row and squeeze the networks into a sliver.
    """
    if sizes.sum() <= max_rows or len(groups) < 2 or groups[-1].network != OUTSIDE_ATLAS:
        return _allocate(sizes, max_rows)
    share = int(sizes[-1]) * max_rows // int(sizes.sum())  # its proportional share
    outside = min(share, int(OUTSIDE_SHARE * max_rows))
    inner = _allocate(sizes[:-1], max_rows - outside)
    outside = min(int(sizes[-1]), max_rows - int(inner.sum()))
    counts: npt.NDArray[np.intp] = np.r_[inner, outside].astype(np.intp)
    return counts


def _sample(
    groups: list[_Group], max_rows: int, seed: int
) -> tuple[Rows, tuple[str, ...], tuple[str, ...]]:
    """Draw each group's share of rows (kept in index order); return rows, networks, labels."""
    counts = _counts(np.array([g.members.size for g in groups], dtype=np.intp), groups, max_rows)
    rng = np.random.default_rng(seed)
    rows, networks, labels = [], [], []
    for group, count in zip(groups, counts, strict=True):
        if count == 0:
            continue
        if count < group.members.size:
            picked = np.sort(rng.choice(group.members.size, size=int(count), replace=False))
            chosen = group.members[picked]
        else:
            chosen = group.members
        rows.append(chosen)
        networks += [group.network] * int(count)
        labels += [group.label] * int(count)
    return np.concatenate(rows).astype(np.intp), tuple(networks), tuple(labels)


def _standardise_rows(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Remove each row's least-squares line and scale it to unit SD (zeros if it cannot be).

    Rows with a non-finite value, and rows whose detrended SD is below
    ``1e-9`` of their largest absolute value (constant up to rounding), become
    zeros.
    """
    n = values.shape[1]
    finite = np.asarray(np.isfinite(values).all(axis=1), dtype=np.bool_)
    x = np.where(finite[:, None], values, 0.0)
    centred = x - x.mean(axis=1, keepdims=True)
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    if n > 1:
        centred -= np.outer(centred @ t / (t @ t), t)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        sd = np.sqrt(np.mean(centred * centred, axis=1))
        varies: npt.NDArray[np.bool_] = finite & (sd > _FLAT * np.abs(x).max(axis=1, initial=0.0))
        z = centred / np.where(varies, sd, 1.0)[:, None]
    z[~varies] = 0.0
    z[~np.isfinite(z).all(axis=1)] = 0.0
    standard: npt.NDArray[np.float32] = z.astype(np.float32)
    return standard


def _check_arguments(atlas: Atlas, max_rows: int, seed: int) -> None:
    if not isinstance(atlas, Atlas):
        raise InputError(f"atlas must be a dmnpharm.atlases.Atlas; got {type(atlas).__name__}")
    for name, value, least in (("max_rows", max_rows, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
            kind = "a positive" if least else "a non-negative"
            raise InputError(f"{name} must be {kind} integer; got {value!r}")


def _nifti_carpet(
    path: Path, atlas: Atlas, mask: Path | None, radius: float, max_rows: int, seed: int
) -> Carpet:
    """Sample a 4D NIfTI run: the regions' (and the rest of the mask's) voxels."""
    layout = read_layout(path)
    shape = layout.shape[:3]
    inside = None if mask is None else read_mask(mask, shape, layout.affine, path)
    if atlas.image:
        members, _, _ = label_members(atlas, shape, layout.affine, inside, path)
    else:
        members = sphere_members(atlas, radius, shape, layout.affine, inside)
    outside = None if inside is None else np.flatnonzero(inside.ravel(order="F"))
    groups = _groups(atlas, members, outside, layout.voxels_per_volume)
    if not groups:
        raise InputError(
            f"atlas {atlas.name!r} has no voxel on the data grid of '{path}'"
            + ("" if mask is None else f" inside the mask '{mask}'")
        )
    rows, networks, labels = _sample(groups, max_rows, seed)
    columns = np.unique(rows)
    values = np.empty((layout.n_volumes, columns.size), dtype=np.float64)
    chunk = default_chunk_volumes(layout)
    for start, block in iter_columns(layout, columns, chunk, "BOLD image"):
        values[start : start + block.shape[0]] = block
    values = values[:, np.searchsorted(columns, rows)].T
    values *= layout.slope
    values += layout.inter
    return Carpet(_standardise_rows(values), networks, str(path), labels)


def _grayordinate_members(atlas: Atlas, dense: _Dense) -> list[Rows]:
    """Return each parcel's data grayordinates, matched as the parcel means match them."""
    dense_labels = read_dlabel(atlas.image)
    at_atlas, at_data, _ = match_grayordinates(
        dense_labels.brain_models, dense.brain_models, dense_labels.path, dense.path
    )
    keys = np.zeros(dense.n_grayordinates, dtype=np.int64)
    keys[at_data] = dense_labels.keys[at_atlas]
    order = np.argsort(keys, kind="stable")
    ranked = keys[order]
    members = []
    for value in atlas.label_values:
        lo, hi = np.searchsorted(ranked, [value, value + 1])
        members.append(np.sort(order[lo:hi]).astype(np.intp))
    return members


def _read_grayordinates(dense: _Dense, columns: Rows) -> npt.NDArray[np.float64]:
    """Read some grayordinates' series (sorted indices), ``len(columns) x volumes``.

    Nearby grayordinates are read in one contiguous slice (at most one block
    of :func:`extract_cifti_timeseries`'s size); every stored byte is read at
    most once.
    """
    per = max(dense.n_volumes * dense.dtype.itemsize, 1)
    gap = max(1, _GAP_BYTES // per)
    longest = _chunk(None, dense)
    out = np.empty((columns.size, dense.n_volumes), dtype=np.float64)
    first = 0
    while first < columns.size:
        last = first
        while (
            last + 1 < columns.size
            and columns[last + 1] - columns[last] <= gap
            and columns[last + 1] - columns[first] < longest
        ):
            last += 1
        start, stop = int(columns[first]), int(columns[last]) + 1
        try:
            block = np.asarray(dense.cifti.data[:, start:stop])
        except LOAD_ERRORS as exc:
            raise InputError(
                f"dense time series '{dense.path}' could not be read at grayordinates "
                f"{start}..{stop - 1} (corrupt or truncated file?): {exc}"
            ) from None
        out[first : last + 1] = block[:, columns[first : last + 1] - start].T
        first = last + 1
    return out


def _cifti_carpet(path: Path, atlas: Atlas, max_rows: int, seed: int) -> Carpet:
    """Sample a dense time series: every grayordinate is a candidate row."""
    if not atlas.image:
        raise InputError(
            f"atlas {atlas.name!r} has no dlabel image; a dense time series needs a "
            "dmnpharm.atlases.dlabel_atlas(...) on its grayordinates"
        )
    dense = _open_dense(path)
    members = _grayordinate_members(atlas, dense)
    everything = np.arange(dense.n_grayordinates, dtype=np.intp)
    groups = _groups(atlas, members, everything, dense.n_grayordinates)
    rows, networks, labels = _sample(groups, max_rows, seed)
    columns = np.unique(rows)
    values = _read_grayordinates(dense, columns)[np.searchsorted(columns, rows)]
    return Carpet(_standardise_rows(values), networks, str(path), labels)


def carpet_sample(
    bold: str | os.PathLike[str],
    atlas: Atlas,
    *,
    mask: str | os.PathLike[str] | None = None,
    max_rows: int = 1200,
    seed: int = 0,
    radius_mm: float = 5.0,
) -> Carpet:
    """Sample one run's voxel signals for a carpet plot, grouped by network and region.

    The carpet plot (Power JD 2017, "A simple but useful way to assess fMRI
    scan qualities", NeuroImage 154:150-158; the "grayplot" of Power et al.
    2014, NeuroImage 84:320-341) shows every voxel's signal as a row, so that
    artefacts shared across the brain show as vertical bands. fMRIPrep
    (niworkflows' ``plot_carpet``) and XCP-D's executive summary order the
    rows by tissue or segment; here rows are grouped by the atlas's networks
    in the atlas's order with DMN first, then by region in atlas order, with
    the rows in no region (``"outside atlas"``) last.

    * NIfTI (``.nii``/``.nii.gz``): regions are placed on the data grid as
      :func:`extract_timeseries` places them (labels resampled by nearest
      neighbour, or spheres of ``radius_mm``, inside the mask when given).
      With a mask, the candidate rows are the mask's voxels; without one,
      the atlas's voxels only. A voxel in several (overlapping) spheres is a
      row of the first of them in the carpet's order.
    * CIFTI dense time series (``.dtseries.nii``): rows are grayordinates,
      parcels come from the atlas's dlabel matched as
      :func:`extract_cifti_timeseries` matches them, and every grayordinate
      outside the parcels is an ``"outside atlas"`` candidate.

    At most ``max_rows`` rows are drawn, spread over the regions in
    proportion to their number of candidates (largest remainders; a region
    may get none when ``max_rows`` is small), after the outside group takes
    its share, at most a quarter of the rows (:data:`OUTSIDE_SHARE`), chosen
    at random within each with ``seed`` and kept in file order. Each row is
    linearly detrended and z-scored. The image is read once, only as far as
    needed (NIfTI: streamed a chunk of volumes at a time, only the chosen
    voxels kept; CIFTI: the chosen grayordinates' contiguous series).

    Parameters
    ----------
    bold : str or os.PathLike
        A 4D ``.nii``/``.nii.gz`` BOLD run or a ``.dtseries.nii``.
    atlas : Atlas
        The regions: a labels-image or coordinate atlas for NIfTI, a
        :func:`dmnpharm.atlases.dlabel_atlas` for CIFTI.
    mask : str or os.PathLike or None
        The run's brain mask on the data grid (NIfTI only); None uses the
        atlas's voxels only.
    max_rows : int
        Most rows to return.
    seed : int
        Seed of the random choice of rows; the same seed gives the same rows.
    radius_mm : float
        Sphere radius in mm for coordinate atlases (as for
        :func:`extract_timeseries`).

    Returns
    -------
    Carpet
        The ``rows x volumes`` float32 sample with each row's network and
        region, and the file it came from.

    Raises
    ------
    InputError
        The file cannot be read (as for :func:`extract_timeseries` and
        :func:`extract_cifti_timeseries`); a mask is given for a CIFTI run or
        is not on the data grid; the atlas does not fit the data or has no
        voxel there; ``max_rows``, ``seed`` or ``radius_mm`` is invalid.
    """
    _check_arguments(atlas, max_rows, seed)
    radius = _positive("radius_mm", radius_mm, allow_zero=True)
    path = Path(bold)
    if path.name.endswith(".dtseries.nii"):
        if mask is not None:
            raise InputError(
                f"'{path}' is a CIFTI dense time series: its grayordinates are the brain, "
                "so it takes no mask (mask=None)"
            )
        return _cifti_carpet(path, atlas, int(max_rows), int(seed))
    return _nifti_carpet(
        path, atlas, None if mask is None else Path(mask), radius, int(max_rows), int(seed)
    )
