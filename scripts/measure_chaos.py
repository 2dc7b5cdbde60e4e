"""Measure the chaos, climate and cost of the two-layer baroclinic truth (:mod:`hens.demo.baroclinic`).

Steps (all on one CPU thread, float64):

1. spin-up: the shipped spun-up state when the parameters match it and ``--spin-up-days`` is not given, else
   ``--spin-up-days`` from the seeded rest state (``--save-state`` writes the result, e.g. for shipping);
2. climate: ``--clim-days`` of one run sampled every ``--sample-hours``: per-point temporal σ of z500, its
   extratropical RMS (|lat| ≥ 20°, cos-latitude weights on the output grid), the time- and zonal-mean winds
   (jets), the kinetic-energy spectrum E(l) of the model state and its log–log slope over ``--fit-l``, and
   seconds per simulated day of one member;
3. twins: ``--pairs`` start states spaced evenly along the climate run, each perturbed by a seeded random
   streamfunction (coefficients ∝ 1/l in both layers) scaled so that the extratropical RMS of the z500
   difference is ``--eps`` × σ; control and perturbed members run as one batch for ``--twin-days``.  The
   error e(t) is the extratropical RMS z500 difference of a pair; the growth rate is a least-squares fit of
   the pairs' mean ln e against time between ``--fit-from`` days and the first time the mean error reaches
   ``--fit-until`` × the saturation level √2 σ (two independent states); the doubling time is ln 2 / rate;
   the saturation time is the first time the RMS over pairs of e reaches ``--saturation`` × √2 σ;
4. cost: seconds per simulated day of one member and of a batch of 2 × ``--pairs``, the fastest of three runs
   of ``--cost-days`` on one thread.

Prints a table and writes everything to ``--out`` (JSON).  Example (the numbers in docs/demo_world.md):

    python3 scripts/measure_chaos.py --out chaos.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time

import numpy as np
import torch

from hens.demo.baroclinic import BAROCLINIC_CHANNELS, Baroclinic, BaroclinicParams, BaroclinicState, shipped_state

G = 9.80665


def parse_sets(items: list[str]) -> dict[str, object]:
    """``name=value`` overrides of :class:`BaroclinicParams`, cast to the field's type."""
    fields = {f.name: f for f in dataclasses.fields(BaroclinicParams)}
    out: dict[str, object] = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in fields:
            raise SystemExit(f"--set {item}: {name!r} is not a BaroclinicParams field ({', '.join(fields)})")
        out[name] = int(value) if fields[name].type in ("int", int) else float(value)
    return out


def extratropical_weights(lat_deg: np.ndarray, nlon: int, min_lat: float = 20.0) -> np.ndarray:
    """cos-latitude weights over |lat| ≥ ``min_lat`` on the output grid, normalised to sum 1: ``[nlat, nlon]``."""
    w = np.cos(np.deg2rad(lat_deg)) * (np.abs(lat_deg) >= min_lat)
    w = np.repeat(w[:, None], nlon, axis=1)
    return w / w.sum()


def _jet(j: dict[str, float]) -> str:
    north = f"N {j['north_max_m_s']:.1f} m/s at {j['north_lat']:.0f}°"
    return f"{north}, S {j['south_max_m_s']:.1f} m/s at {j['south_lat']:.0f}°"


def _cost(model: Baroclinic, state: BaroclinicState, batch: int, days: float, repeats: int = 3) -> tuple[float, float]:
    """(wall, CPU) seconds per simulated day of ``batch`` members on one thread: the fastest of ``repeats`` runs
    of ``days``.  On a shared machine the CPU time (time.process_time) is the better estimate of the cost on an
    idle core; the wall time includes waiting for one."""
    members = BaroclinicState(state.q[:1].expand(batch, -1, -1, -1).clone(), state.day)
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        model.advance_days(members, days)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall) / days, min(cpu) / days


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--spin-up-days", type=float, default=None)
    ap.add_argument("--state", default=None, help="start from this spun-up state (.npz of BaroclinicState.save)")
    ap.add_argument("--save-state", default=None, help="write the spun-up state (.npz)")
    ap.add_argument("--clim-days", type=float, default=60.0)
    ap.add_argument("--sample-hours", type=float, default=12.0)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--twin-days", type=float, default=25.0)
    ap.add_argument("--eps", type=float, default=1e-3, help="initial difference / climatological σ of z500")
    ap.add_argument("--fit-from", type=float, default=1.0, help="days")
    ap.add_argument("--fit-until", type=float, default=0.1, help="fraction of the saturation level")
    ap.add_argument("--saturation", type=float, default=0.9, help="fraction of √2 σ that counts as saturated")
    ap.add_argument("--fit-l", type=int, nargs=2, default=(10, 30), metavar=("L1", "L2"))
    ap.add_argument("--cost-days", type=float, default=2.0, help="simulated days per timing run (best of 3)")
    ap.add_argument("--out", default=None, help="JSON file for the results")
    args = ap.parse_args()
    torch.set_num_threads(1)

    params = dataclasses.replace(BaroclinicParams(), **parse_sets(args.set))
    model = Baroclinic(params)
    lat, _ = model.output_lat_lon()
    w_ext = extratropical_weights(lat, params.out_nlon)
    iz = BAROCLINIC_CHANNELS.index("z500")

    # 1. spin-up
    t0 = time.perf_counter()
    state = shipped_state(params) if args.spin_up_days is None else None
    if args.state:
        state = BaroclinicState.load(args.state, params)
        spin_note = args.state
    elif state is None:
        days = 200.0 if args.spin_up_days is None else args.spin_up_days
        state = model.spin_up(args.seed, days)
        spin_note = f"{days:g} days from seed {args.seed} ({time.perf_counter() - t0:.1f} s)"
    else:
        spin_note = "shipped state"
    if args.save_state:
        state.save(args.save_state, params)

    # 2. climate run
    n_per = int(round(args.sample_hours * 3600 / params.dt_s))
    n_samples = int(round(args.clim_days * 24 / args.sample_hours))
    samples, states, spectra = [], [], []
    t0 = time.perf_counter()
    for _ in range(n_samples):
        state = model.step(state, n_per)
        samples.append(model.channels64(state)[0].numpy())
        states.append(state)
        spectra.append(model.ke_spectrum(state)[0].numpy())
    clim_seconds = time.perf_counter() - t0
    x = np.stack(samples)  # [T, C, nlat, nlon]
    sigma_z = x[:, iz].std(0)
    sigma_ext = float(np.sqrt((w_ext * sigma_z**2).sum()))
    saturation = math.sqrt(2.0) * sigma_ext
    zonal = x.mean((0, 3))  # [C, nlat]
    jets = {}
    for name in ("u250", "u500", "u850"):
        u = zonal[BAROCLINIC_CHANNELS.index(name)]
        north, south = lat >= 0, lat < 0
        jets[name] = {
            "north_max_m_s": float(u[north].max()),
            "north_lat": float(lat[north][u[north].argmax()]),
            "south_max_m_s": float(u[south].max()),
            "south_lat": float(lat[south][u[south].argmax()]),
        }
    t850 = zonal[BAROCLINIC_CHANNELS.index("t850")]
    spectrum = np.mean(spectra, axis=0)
    l1, l2 = args.fit_l
    ell = np.arange(len(spectrum))
    sel = (ell >= l1) & (ell <= l2)
    slope = float(np.polyfit(np.log(ell[sel]), np.log(spectrum[sel]), 1)[0])
    cost_b1 = _cost(model, state, 1, args.cost_days)
    cost_batch = _cost(model, state, 2 * args.pairs, args.cost_days)

    # 3. twins
    gen = torch.Generator().manual_seed(args.seed + 1)
    picks = np.linspace(0, n_samples - 1, args.pairs).round().astype(int)
    q0 = torch.cat([states[i].q for i in picks])
    day0 = states[picks[0]].day
    ell_t = torch.arange(params.lmax, dtype=torch.float64).reshape(-1, 1)
    amp = torch.where(ell_t > 0, 1.0 / ell_t.clamp_min(1.0), 0.0) * model.mask
    noise = torch.view_as_complex(torch.randn(args.pairs, 2, params.lmax, params.lmax, 2, generator=gen,
                                              dtype=torch.float64)) * amp
    noise[..., 0] = noise[..., 0].real.to(noise.dtype)
    dq = model.pv(noise)
    base = model.channels64(BaroclinicState(q0, day0))[:, iz].numpy()
    dz = model.channels64(BaroclinicState(q0 + dq, day0))[:, iz].numpy() - base
    rms0 = np.sqrt((w_ext * dz**2).sum((-2, -1)))
    dq = dq * torch.as_tensor(args.eps * sigma_ext / rms0).reshape(-1, 1, 1, 1)
    twin = BaroclinicState(torch.cat([q0, q0 + dq]), day0)  # the day only matters with a seasonal cycle
    n_twin = int(round(args.twin_days * 24 / args.sample_hours))
    errors = []
    t0 = time.perf_counter()
    for k in range(n_twin + 1):
        if k:
            twin = model.step(twin, n_per)
        z = model.channels64(twin)[:, iz].numpy()
        errors.append(np.sqrt((w_ext * (z[args.pairs:] - z[: args.pairs]) ** 2).sum((-2, -1))))
    twin_seconds = time.perf_counter() - t0
    err = np.stack(errors)  # [time, pairs]
    t_days = np.arange(n_twin + 1) * args.sample_hours / 24
    log_mean = np.log(err).mean(1)
    rms_err = np.sqrt((err**2).mean(1))
    reached = np.nonzero(np.exp(log_mean) >= args.fit_until * saturation)[0]
    end = reached[0] if len(reached) else len(t_days)
    fit = (t_days >= args.fit_from) & (np.arange(len(t_days)) < end)
    rate = float(np.polyfit(t_days[fit], log_mean[fit], 1)[0]) if fit.sum() >= 3 else float("nan")
    doubling = math.log(2) / rate if rate > 0 else float("inf")
    sat_idx = np.nonzero(rms_err >= args.saturation * saturation)[0]
    sat_time = float(t_days[sat_idx[0]]) if len(sat_idx) else float("nan")
    per_pair_rates = [
        float(np.polyfit(t_days[fit], np.log(err[fit, i]), 1)[0]) if fit.sum() >= 3 else float("nan")
        for i in range(args.pairs)
    ]

    result = {
        "params": dataclasses.asdict(params),
        "fingerprint": params.fingerprint(),
        "spin_up": spin_note,
        "z500_sigma_extratropics_m2s2": sigma_ext,
        "z500_sigma_extratropics_m": sigma_ext / G,
        "saturation_level_m2s2": saturation,
        "jets_time_zonal_mean": jets,
        "t850_zonal_mean_K": {"max": float(t850.max()), "min": float(t850.min())},
        "ke_spectrum": spectrum.tolist(),
        "ke_slope": slope,
        "ke_slope_range": [l1, l2],
        "growth_rate_per_day": rate,
        "doubling_time_days": doubling,
        "doubling_time_days_per_pair": [math.log(2) / r if r > 0 else float("inf") for r in per_pair_rates],
        "fit_window_days": [float(t_days[fit][0]), float(t_days[fit][-1])] if fit.any() else None,
        "saturation_time_days": sat_time,
        "twin_time_days": t_days.tolist(),
        "twin_error_geomean": np.exp(log_mean).tolist(),
        "twin_error_rms": rms_err.tolist(),
        "initial_error_m2s2": float(np.exp(log_mean[0])),
        "seconds_per_day_1_member_wall": cost_b1[0],
        "seconds_per_day_1_member_cpu": cost_b1[1],
        "seconds_per_day_batch_wall": cost_batch[0],
        "seconds_per_day_batch_cpu": cost_batch[1],
        "seconds_per_day_climate_run_wall": clim_seconds / args.clim_days,
        "seconds_per_day_twin_run_wall": twin_seconds / args.twin_days,
        "batch": 2 * args.pairs,
        "args": vars(args),
    }
    print(f"parameters {params.fingerprint()}: " + ", ".join(f"{k}={v}" for k, v in parse_sets(args.set).items()))
    print(f"spin-up: {spin_note}; climate {args.clim_days:g} days, twins {args.pairs} pairs × {args.twin_days:g} days")
    rows = [
        ("z500 σ, extratropics", f"{sigma_ext:.0f} m² s⁻² ({sigma_ext / G:.0f} m)"),
        ("saturation level √2 σ", f"{saturation:.0f} m² s⁻²"),
        ("jet u250 (time, zonal mean)", _jet(jets["u250"])),
        ("jet u850 (time, zonal mean)", _jet(jets["u850"])),
        ("t850 zonal mean range", f"{t850.min():.1f} … {t850.max():.1f} K"),
        ("initial twin error", f"{np.exp(log_mean[0]):.3g} m² s⁻² ({args.eps:g} σ)"),
        ("growth rate / doubling time", f"{rate:.3f} /day → {doubling:.2f} days "
         f"(pairs {min(result['doubling_time_days_per_pair']):.2f}–{max(result['doubling_time_days_per_pair']):.2f})"),
        ("fit window", f"{result['fit_window_days']} days"),
        (f"saturation time ({args.saturation:g} √2 σ)", f"{sat_time:.1f} days"),
        (f"KE spectrum slope l={l1}–{l2}", f"{slope:.2f}"),
        ("cost, 1 member (best of 3)", f"{cost_b1[1]:.3f} CPU s ({cost_b1[0]:.3f} wall s) per simulated day"),
        (f"cost, batch of {2 * args.pairs} (best of 3)", f"{cost_batch[1]:.3f} CPU s ({cost_batch[0]:.3f} wall s) per "
         f"simulated day, {cost_batch[1] / (2 * args.pairs):.3f} CPU s per member"),
    ]
    for name, value in rows:
        print(f"  {name:<36}{value}")
    print("  twin error (geometric mean over pairs, m² s⁻²) by day:")
    every = max(1, int(round(24 / args.sample_hours)))
    print("   " + " ".join(f"{t:.0f}:{e:.3g}" for t, e in zip(t_days[::every], np.exp(log_mean)[::every], strict=True)))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
