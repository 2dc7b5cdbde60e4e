"""A chaotic baroclinic truth on the sphere: a two-layer quasi-geostrophic model on torch-harmonics' transforms.

The demo world's truth (:mod:`hens.demo.world`; it replaced a forced shallow-water model that was not chaotic by
itself and took its weather from white-in-time stirring).  This model is chaotic: its weather comes from
baroclinic instability of relaxed mid-latitude jets, and twin runs from states a tiny difference apart separate
exponentially (measured by ``scripts/measure_chaos.py``; numbers in docs/demo_world.md, "Baroclinic truth (measured)").

Equations (two equal layers, upper k = 1 and lower k = 2, Phillips' model on the sphere with a constant
deformation radius λ, so F = 1/(2λ²); a = Earth's radius, f = 2Ω sin ϕ):

    q₁ = ∇²ψ₁ + F (ψ₂ − ψ₁)                               (relative potential vorticity, s⁻¹)
    q₂ = ∇²ψ₂ + F (ψ₁ − ψ₂)
    ∂q₁/∂t = −∇·(u₁ Q₁) + (F/τ_R) (ψ₁ − ψ₂ − ψ_R)           Q₁ = q₁ + f
    ∂q₂/∂t = −∇·(u₂ Q₂) − (F/τ_R) (ψ₁ − ψ₂ − ψ_R) − ∇²ψ₂/τ_E Q₂ = q₂ + f + f h/H_o
    uₖ = k̂ × ∇ψₖ,  then per step qₖ ← qₖ · exp(−Δt/τ_H · (l(l+1)/(L(L+1)))⁴)   (∇⁸ hyperdiffusion)

- ψ_R(ϕ, t) is the radiative-equilibrium shear streamfunction: u₁ − u₂ = −(1/a) ∂ψ_R/∂ϕ
  = U_R(t) cosⁿϕ sin²ϕ / max(cosⁿϕ sin²ϕ), n = 2/tan²ϕ_R — a westerly thermal wind peaking at ±ϕ_R
  (``shear_peak_lat_deg``) of U_R (``shear_m_s`` in
  the north, × ``southern_shear_factor`` in the south), zero at the equator and the poles.  Newtonian relaxation
  of the interface (the layer-mean temperature) towards it on ``tau_relax_days`` keeps both hemispheres'
  jets baroclinically unstable (Held–Suarez-like forcing in a QG model).  With ``seasonal_amplitude`` A > 0 the
  northern shear is scaled by 1 + A cos(2π(d − d_w)/365.25) and the southern one by 1 − A cos(…) (d: day of
  the year, d_w = ``winter_peak_day``).  Default A = 0: a statistically stationary climate, which is what the
  demo climatology and the month-pooled M-climate assume; switch it on for seasons.
- h(ϕ, λ): four smooth, spectrally truncated mountain ranges (Rockies, Tibet, Andes, Greenland; heights in m)
  squeezing the lower layer with depth scale H_o (``orography_depth_m``): stationary waves, zonal asymmetry.
- τ_E: linear (Ekman) drag on the lower layer's relative vorticity.
- τ_H: e-folding time of the ∇⁸ hyperdiffusion at the truncation degree L = ``lmax`` − 1.

Numerics: spectral transform method on a Legendre–Gauss grid (``nlat`` × ``nlon``, triangular truncation with
degrees l < ``lmax``); the flux-form nonlinear terms are computed on the grid (products of ψ-winds and total PV,
then a vector transform whose divergence part is −∇·(uQ)); classical fourth-order Runge–Kutta in time (self-
starting, so ``step(s, 2n)`` equals ``step(step(s, n), n)`` exactly) with the hyperdiffusion applied as an
exact integrating factor after each step.  PV inversion is diagonal in l for the barotropic mode
ψ_bt = (ψ₁ + ψ₂)/2 (∇²ψ_bt = (q₁ + q₂)/2) and the baroclinic mode ψ_bc = (ψ₁ − ψ₂)/2
((∇² − 2F) ψ_bc = (q₁ − q₂)/2).  Everything runs in float64 (complex128 coefficients).

Weather-like channels (:meth:`Baroclinic.to_channels`): the upper layer stands for 250 hPa, the lower for
850 hPa, and fields at other pressures are linear in ln p between them (500 hPa ≈ 0.434 upper + 0.566 lower).
Geopotential anomalies φ'ₖ come from ψₖ by the linear balance equation ∇²φ' = ∇·(f ∇ψ) (≈ f ψ in mid-latitudes,
flat in the tropics), added to fixed global means.  ``t850`` is the layer-mean temperature of the 850–500 hPa
layer from the hypsometric relation T = (φ₅₀₀ − φ₈₅₀) / (R_d ln(850/500)) — a thickness temperature, not the
temperature *at* 850 hPa.  Winds are the rotational (ψ) winds.  All are spectrally truncated to what the output
grid resolves (equiangular with both poles, like ERA5's 721×1440; default 33×64, the demo SFNOs' grid).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

GAS_CONSTANT_DRY = 287.04  # R_d, J kg⁻¹ K⁻¹
#: Channels of :meth:`Baroclinic.to_channels`, in this order (makani / earth2studio names).
BAROCLINIC_CHANNELS: tuple[str, ...] = ("z500", "z850", "t850", "u250", "v250", "u500", "v500", "u850", "v850")
#: Pressure (hPa) of the upper and lower layer, and the weight of the upper layer at 500 hPa (linear in ln p,
#: as φ is for an isothermal column): ln(850/500) / ln(850/250) ≈ 0.434.
UPPER_HPA, LOWER_HPA = 250.0, 850.0
W500 = math.log(LOWER_HPA / 500.0) / math.log(LOWER_HPA / UPPER_HPA)
SHIPPED_BAROCLINIC_STATE = Path(__file__).resolve().parent / "baroclinic_state.npz"


@dataclass(frozen=True)
class BaroclinicParams:
    """Every parameter of the two-layer model (see the module docstring for the equations).

    Resolution: ``nlat`` × ``nlon`` Legendre–Gauss grid, spherical-harmonic degrees l < ``lmax`` (T``lmax``−1),
    time step ``dt_s`` seconds (a divisor of 6 h).  Output grid ``out_nlat`` × ``out_nlon`` equiangular.
    """

    nlat: int = 64
    nlon: int = 128
    lmax: int = 43
    dt_s: float = 5400.0  # RK4 step (s); must divide 6 h
    radius_m: float = 6.371e6
    omega_s: float = 7.292e-5  # Earth's rotation rate, s⁻¹
    deformation_radius_km: float = 450.0  # λ = 1/√(2F): internal Rossby radius of deformation
    shear_m_s: float = 32.0  # U_R: peak equilibrium thermal wind u₁ − u₂ in the north (m s⁻¹)
    shear_peak_lat_deg: float = 35.0  # ϕ_R: latitude of the peak of u_R ∝ cosⁿϕ sin²ϕ (n = 2 / tan²ϕ_R)
    southern_shear_factor: float = 0.9  # southern peak shear / northern (hemispheric asymmetry)
    seasonal_amplitude: float = 0.0  # A: relative seasonal modulation of the shear (0 = perpetual equinox)
    winter_peak_day: float = 15.0  # day of the year of the northern maximum shear (15 = mid-January)
    tau_relax_days: float = 10.0  # τ_R: Newtonian relaxation of the interface (temperature)
    tau_ekman_days: float = 2.0  # τ_E: linear drag on the lower layer's relative vorticity
    tau_hyperdiffusion_hours: float = 12.0  # τ_H: ∇⁸ e-folding time at the truncation degree
    orography_scale: float = 1.0  # multiplies the mountain heights (0: no orography)
    orography_depth_m: float = 8000.0  # H_o: depth scale of the lower layer squeezed by mountains (m)
    mean_z500: float = 5.54e4  # global-mean geopotentials of the channels (m² s⁻²)
    mean_z850: float = 1.43e4
    out_nlat: int = 33
    out_nlon: int = 64

    def fingerprint(self) -> str:
        """Short stable hash of every field (shipped states, cache keys)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    @property
    def steps_per_day(self) -> int:
        n = 86400.0 / self.dt_s
        if abs(n - round(n)) > 1e-9 or (6 * 3600.0 / self.dt_s) % 1:
            raise ValueError(f"dt_s={self.dt_s} does not divide 6 hours")
        return int(round(n))


#: Mountain ranges: (latitude °, longitude °E, half-width in latitude °, in longitude °, height m).
MOUNTAINS: tuple[tuple[float, float, float, float, float], ...] = (
    (45.0, 245.0, 12.0, 7.0, 2000.0),  # "Rockies": a meridional ridge
    (34.0, 88.0, 7.0, 16.0, 3000.0),  # "Tibet": a zonally elongated plateau
    (-25.0, 290.0, 18.0, 5.0, 2000.0),  # "Andes": a narrow meridional ridge
    (72.0, 318.0, 7.0, 14.0, 2000.0),  # "Greenland"
)


@dataclass(frozen=True)
class BaroclinicState:
    """Model state: relative PV coefficients ``q`` ``[B, 2, lmax, lmax]`` complex128 (s⁻¹; layer 0 upper,
    1 lower; orthonormal spherical harmonics, m ≥ 0) at ``day`` (days since the model calendar's 1 January)."""

    q: torch.Tensor
    day: float

    @property
    def batch(self) -> int:
        return self.q.shape[0]

    def save(self, path: str | Path, params: BaroclinicParams) -> None:
        """Write an ``.npz`` with ``q``, ``day`` and the parameters' fingerprint."""
        np.savez(path, q=self.q.numpy(), day=np.float64(self.day), fingerprint=params.fingerprint())

    @classmethod
    def load(cls, path: str | Path, params: BaroclinicParams | None = None) -> BaroclinicState:
        """Read :meth:`save`'s file; with ``params``, a ValueError if it was made with other parameters."""
        with np.load(path) as f:
            if params is not None and str(f["fingerprint"]) != params.fingerprint():
                raise ValueError(f"{path} was spun up with other parameters ({f['fingerprint']})")
            return cls(torch.from_numpy(f["q"]), float(f["day"]))


def equilibrium_shear_streamfunction(lat: np.ndarray, params: BaroclinicParams) -> np.ndarray:
    """ψ_R(ϕ) = −a ∫₀^ϕ u_R(ϕ') dϕ' (m² s⁻¹) at latitudes ``lat`` (radians), northern amplitude in both
    hemispheres, where u_R = U_R cosⁿϕ sin²ϕ / max(cosⁿϕ sin²ϕ), n = 2 / tan²ϕ_R: a westerly equilibrium thermal
    wind peaking at ±ϕ_R, vanishing at the equator and the poles (antisymmetric ψ_R)."""
    n = 2.0 / math.tan(math.radians(params.shear_peak_lat_deg)) ** 2
    fine = np.linspace(0.0, math.pi / 2, 20001)
    shape = np.cos(fine) ** n * np.sin(fine) ** 2
    u = params.shear_m_s * shape / shape.max()
    psi = -params.radius_m * np.concatenate([[0.0], np.cumsum(0.5 * (u[1:] + u[:-1]) * np.diff(fine))])
    return np.sign(lat) * np.interp(np.abs(lat), fine, psi)


def _transforms(nlat: int, nlon: int, lmax: int, grid: str):
    import torch_harmonics as th

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {"lmax": lmax, "mmax": lmax, "grid": grid}
        return (
            th.RealSHT(nlat, nlon, **kw).double(),
            th.InverseRealSHT(nlat, nlon, **kw).double(),
            th.RealVectorSHT(nlat, nlon, **kw).double(),
            th.InverseRealVectorSHT(nlat, nlon, **kw).double(),
        )


def grid_latitudes(nlat: int, grid: str) -> torch.Tensor:
    """Latitudes (radians, north → south) of torch-harmonics' ``grid`` with ``nlat`` rows, float64."""
    from torch_harmonics.quadrature import precompute_latitudes

    colat, _ = precompute_latitudes(nlat, grid=grid)
    return (math.pi / 2 - colat).to(torch.float64)


class Baroclinic:
    """The two-layer model: ``step(state, n)``, ``to_channels(state)``, ``from_channels(grid, day)``,
    ``spin_up(seed, days)``.  Batched over the leading member dimension of the state.  CPU, float64."""

    def __init__(self, params: BaroclinicParams | None = None) -> None:
        p = params or BaroclinicParams()
        self.params = p
        self.a = p.radius_m
        self.L = p.lmax
        self.sht, self.isht, self.vsht, self.ivsht = _transforms(p.nlat, p.nlon, p.lmax, "legendre-gauss")
        self.lat = grid_latitudes(p.nlat, "legendre-gauss")  # [nlat]
        self.lon = torch.arange(p.nlon, dtype=torch.float64) * (2 * math.pi / p.nlon)
        lat2 = self.lat.reshape(-1, 1).expand(p.nlat, p.nlon)
        lon2 = self.lon.reshape(1, -1).expand(p.nlat, p.nlon)
        self.f = (2 * p.omega_s * torch.sin(lat2)).contiguous()  # [nlat, nlon]
        ell = torch.arange(p.lmax, dtype=torch.float64).reshape(-1, 1).expand(p.lmax, p.lmax)
        self.lap = -ell * (ell + 1) / self.a**2  # ∇² eigenvalues [lmax, lmax]
        self.F = 1.0 / (2.0 * (p.deformation_radius_km * 1e3) ** 2)
        inv_bt = torch.where(ell > 0, 1.0 / torch.where(ell > 0, self.lap, 1.0), 0.0)
        self.inv_bt = inv_bt  # ψ_bt = inv_bt · q_bt
        self.inv_bc = 1.0 / (self.lap - 2 * self.F)  # ψ_bc = inv_bc · q_bc
        self.mask = torch.tril(torch.ones(p.lmax, p.lmax, dtype=torch.float64))  # m ≤ l
        top = p.lmax - 1
        scale = (ell * (ell + 1) / (top * (top + 1))) ** 4
        self.hyper = torch.exp(-p.dt_s / (p.tau_hyperdiffusion_hours * 3600.0) * scale) * self.mask
        self.orography = self._band(self.mountains(lat2, lon2) * p.orography_scale)  # h [nlat, nlon] m
        self.topo_pv = (self.f * self.orography / p.orography_depth_m).contiguous()  # f h / H_o (s⁻¹)
        # equilibrium shear streamfunction, per hemisphere: ψ_R(ϕ) = −a ∫₀^ϕ u_R dϕ'
        mu = torch.sin(lat2)
        shape = torch.from_numpy(equilibrium_shear_streamfunction(self.lat.numpy(), p)).reshape(-1, 1).expand_as(mu)
        self.psi_r_north = self.sht(torch.where(mu >= 0, shape, 0.0))
        self.psi_r_south = self.sht(torch.where(mu < 0, shape, 0.0)) * p.southern_shear_factor
        self._out: tuple | None = None

    # -- helpers -------------------------------------------------------------------------------------------------
    def _band(self, grid: torch.Tensor) -> torch.Tensor:
        """Spectral truncation of a grid field to the model's band (grid → grid)."""
        return self.isht(self.sht(grid))

    @staticmethod
    def mountains(lat: torch.Tensor, lon: torch.Tensor) -> torch.Tensor:
        """Surface height (m) of :data:`MOUNTAINS` (elliptical Gaussians in degrees) at ``lat``, ``lon`` (rad)."""
        lat_d, lon_d = torch.rad2deg(lat), torch.rad2deg(lon)
        h = torch.zeros_like(lat_d)
        for lat0, lon0, wlat, wlon, height in MOUNTAINS:
            dlon = torch.remainder(lon_d - lon0 + 180.0, 360.0) - 180.0
            h = h + height * torch.exp(-(((lat_d - lat0) / wlat) ** 2) - (dlon / wlon) ** 2)
        return h

    def shear_amplitudes(self, day: float) -> tuple[float, float]:
        """Multipliers of the northern and southern equilibrium shear on ``day`` (seasonal cycle)."""
        p = self.params
        if p.seasonal_amplitude == 0.0:
            return 1.0, 1.0
        c = math.cos(2 * math.pi * (day - p.winter_peak_day) / 365.25)
        return 1.0 + p.seasonal_amplitude * c, 1.0 - p.seasonal_amplitude * c

    def psi_r(self, day: float) -> torch.Tensor:
        """Equilibrium shear streamfunction ψ_R (m² s⁻¹) coefficients ``[lmax, lmax]`` on ``day``."""
        north, south = self.shear_amplitudes(day)
        return north * self.psi_r_north + south * self.psi_r_south

    def invert(self, q: torch.Tensor) -> torch.Tensor:
        """PV inversion: ``q`` ``[..., 2, l, m]`` → streamfunctions ψ (m² s⁻¹) of both layers, same shape."""
        bt = self.inv_bt * 0.5 * (q[..., 0, :, :] + q[..., 1, :, :])
        bc = self.inv_bc * 0.5 * (q[..., 0, :, :] - q[..., 1, :, :])
        return torch.stack([bt + bc, bt - bc], dim=-3)

    def pv(self, psi: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`invert`: ψ ``[..., 2, l, m]`` → q (l = 0 barotropic part is dropped)."""
        d = psi[..., 0, :, :] - psi[..., 1, :, :]
        q1 = self.lap * psi[..., 0, :, :] - self.F * d
        q2 = self.lap * psi[..., 1, :, :] + self.F * d
        return torch.stack([q1, q2], dim=-3) * self.mask

    def winds(self, psi: torch.Tensor) -> torch.Tensor:
        """Rotational winds of ψ ``[..., l, m]`` on the model grid: ``[..., 2 (u, v), nlat, nlon]`` m s⁻¹."""
        return self.ivsht(torch.stack([psi / self.a, torch.zeros_like(psi)], dim=-3))

    # -- dynamics ------------------------------------------------------------------------------------------------
    def tendency(self, q: torch.Tensor, day: float) -> torch.Tensor:
        """∂q/∂t ``[B, 2, l, m]`` (s⁻²): flux-form advection of total PV, thermal relaxation, Ekman drag."""
        psi = self.invert(q)
        uv = self.winds(psi)  # [B, 2, 2, nlat, nlon]
        total = self.isht(q) + self.f
        total[:, 1] = total[:, 1] + self.topo_pv
        flux = self.vsht(uv * total.unsqueeze(2))  # [B, 2, 2, l, m]; part 1 · a · lap = divergence
        tend = -(self.a * self.lap) * flux[:, :, 1]
        relax = (self.F / (self.params.tau_relax_days * 86400.0)) * (psi[:, 0] - psi[:, 1] - self.psi_r(day))
        drag = self.lap * psi[:, 1] / (self.params.tau_ekman_days * 86400.0)
        return torch.stack([tend[:, 0] + relax, tend[:, 1] - relax - drag], dim=1)

    def step(self, state: BaroclinicState, n: int = 1) -> BaroclinicState:
        """Advance ``n`` steps of ``dt_s`` (RK4 + hyperdiffusion integrating factor).  Deterministic."""
        dt = self.params.dt_s
        dday = dt / 86400.0
        q, day = state.q, state.day
        with torch.no_grad():
            for _ in range(n):
                k1 = self.tendency(q, day)
                k2 = self.tendency(q + 0.5 * dt * k1, day + 0.5 * dday)
                k3 = self.tendency(q + 0.5 * dt * k2, day + 0.5 * dday)
                k4 = self.tendency(q + dt * k3, day + dday)
                q = (q + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)) * self.hyper
                day = day + dday
        return BaroclinicState(q, day)

    def advance_days(self, state: BaroclinicState, days: float) -> BaroclinicState:
        """Advance ``days`` (a whole number of steps)."""
        n = days * 86400.0 / self.params.dt_s
        if abs(n - round(n)) > 1e-9:
            raise ValueError(f"{days} days is not a whole number of {self.params.dt_s} s steps")
        return self.step(state, int(round(n)))

    def rest_state(self, seed: int, batch: int = 1, amplitude: float = 1e-7) -> BaroclinicState:
        """Radiative equilibrium (ψ₁ − ψ₂ = ψ_R, no barotropic flow) plus seeded noise of rms ``amplitude``
        (s⁻¹, per coefficient) in the PV of both layers, at day 0: ``batch`` members, one generator."""
        gen = torch.Generator().manual_seed(seed)
        eq = torch.stack([0.5 * self.psi_r(0.0), -0.5 * self.psi_r(0.0)])
        q = self.pv(eq).expand(batch, 2, self.L, self.L).clone()
        noise = torch.randn(batch, 2, self.L, self.L, 2, generator=gen, dtype=torch.float64)
        q = q + torch.view_as_complex(noise) * amplitude * self.mask
        q[..., 0] = q[..., 0].real.to(q.dtype)  # m = 0 coefficients of a real field are real
        return BaroclinicState(q, 0.0)

    def spin_up(self, seed: int = 0, days: float = 200.0, batch: int = 1) -> BaroclinicState:
        """``days`` of integration from :meth:`rest_state` (seeded): a state on the model's attractor.
        Bit for bit reproducible on one machine with one thread."""
        return self.advance_days(self.rest_state(seed, batch), days)

    # -- diagnostics -----------------------------------------------------------------------------------------------
    def energy(self, state: BaroclinicState) -> torch.Tensor:
        """Global-mean kinetic + available potential energy per unit mass, averaged over the layers (J kg⁻¹):
        E = ¼ Σₖ |∇ψₖ|² + ½ F (ψ₁ − ψ₂)²/2, as area means; shape ``[B]``."""
        psi = self.invert(state.q)
        ke = 0.25 * (-self.lap * _power(psi)).sum((-3, -2, -1))
        ape = 0.25 * self.F * _power(psi[:, 0] - psi[:, 1]).sum((-2, -1))
        return (ke + ape) / (4 * math.pi)

    def ke_spectrum(self, state: BaroclinicState) -> torch.Tensor:
        """Kinetic energy per unit mass by total wavenumber l, summed over both layers (J kg⁻¹, global mean):
        E(l) = Σₖ Σₘ ½ l(l+1)/a² |ψₖ,lm|² / (4π) (m > 0 counted twice); shape ``[B, lmax]``."""
        psi = self.invert(state.q)
        return (0.5 * (-self.lap) * _power(psi)).sum((1, 3)) / (4 * math.pi)

    # -- channels ----------------------------------------------------------------------------------------------
    def _output(self):
        if self._out is None:
            p = self.params
            lo = min(self.L, (p.out_nlat + 1) // 2, p.out_nlon // 2)
            sht, isht, vsht, ivsht = _transforms(p.out_nlat, p.out_nlon, lo, "equiangular")
            self._out = (lo, isht, vsht, ivsht)
        return self._out

    def geopotential_anomalies(self, psi: torch.Tensor) -> torch.Tensor:
        """Linear balance ∇²φ' = ∇·(f ∇ψ): coefficients of φ' (m² s⁻², zero global mean), shape of ``psi``."""
        grad = self.ivsht(torch.stack([torch.zeros_like(psi), psi / self.a], dim=-3))
        div = self.vsht(grad * self.f)[..., 1, :, :] * (self.a * self.lap)
        return self.inv_bt * div

    def channels64(self, state: BaroclinicState) -> torch.Tensor:
        """:meth:`to_channels` in float64 as a tensor (differences of nearby states lose nothing to rounding)."""
        p = self.params
        lo, isht, _, ivsht = self._output()
        with torch.no_grad():
            psi = self.invert(state.q)
            phi = self.geopotential_anomalies(psi)[..., :lo, :lo]
            ps = psi[..., :lo, :lo]
            zu, zl = isht(phi[:, 0]), isht(phi[:, 1])
            z500 = p.mean_z500 + W500 * zu + (1 - W500) * zl
            z850 = p.mean_z850 + zl
            t850 = (z500 - z850) / (GAS_CONSTANT_DRY * math.log(LOWER_HPA / 500.0))
            uv = ivsht(torch.stack([ps / self.a, torch.zeros_like(ps)], dim=-3))  # [B, 2, 2, nlat, nlon]
            uv500 = W500 * uv[:, 0] + (1 - W500) * uv[:, 1]
            return torch.stack(
                [z500, z850, t850, uv[:, 0, 0], uv[:, 0, 1], uv500[:, 0], uv500[:, 1], uv[:, 1, 0], uv[:, 1, 1]],
                dim=1,
            )

    def to_channels(self, state: BaroclinicState) -> np.ndarray:
        """Weather-like channels :data:`BAROCLINIC_CHANNELS` on the output grid, float32
        ``[B, C, out_nlat, out_nlon]``: geopotential (m² s⁻²), t850 (K), winds (m s⁻¹).  See module docstring."""
        return self.channels64(state).numpy().astype(np.float32)

    def from_channels(self, grid: np.ndarray | torch.Tensor, day: float = 0.0) -> BaroclinicState:
        """Lift channels ``[B, C, out_nlat, out_nlon]`` (order :data:`BAROCLINIC_CHANNELS`) to a model state.

        ψ of the upper and lower layer come from the vorticity of (u250, v250) and (u850, v850) by the vector
        transform on the output grid — the inverse of :meth:`to_channels` for the band it resolves (l below
        ``min(lmax, (out_nlat + 1)//2)``); finer scales are zero and regrow from the dynamics.  Heights,
        t850 and the 500-hPa winds are diagnostic in this model and are not used: perturb the winds (or
        re-derive all channels with ``to_channels(from_channels(x))``) for consistent initial perturbations.
        """
        lo, _, vsht, _ = self._output()
        x = torch.as_tensor(np.asarray(grid), dtype=torch.float64)
        idx = [BAROCLINIC_CHANNELS.index(c) for c in ("u250", "v250", "u850", "v850")]
        uv = x[:, idx].reshape(x.shape[0], 2, 2, x.shape[-2], x.shape[-1])
        psi = torch.zeros(x.shape[0], 2, self.L, self.L, dtype=torch.complex128)
        psi[..., :lo, :lo] = vsht(uv)[:, :, 0] * self.a
        return BaroclinicState(self.pv(psi), float(day))

    def output_lat_lon(self) -> tuple[np.ndarray, np.ndarray]:
        """Output grid latitudes (° north → south, both poles) and longitudes (°E), like ERA5's layout."""
        p = self.params
        return np.linspace(90.0, -90.0, p.out_nlat), np.arange(p.out_nlon) * (360.0 / p.out_nlon)


def _power(c: torch.Tensor) -> torch.Tensor:
    """|c_lm|² with m > 0 counted twice (a real field's power per (l, m) in the orthonormal convention)."""
    w = torch.ones(c.shape[-1], dtype=torch.float64)
    w[1:] = 2.0
    return (c.real**2 + c.imag**2) * w


def shipped_state(params: BaroclinicParams | None = None) -> BaroclinicState | None:
    """The spun-up state shipped with hens for ``params`` (default parameters), or None if it does not match."""
    params = params or BaroclinicParams()
    if not SHIPPED_BAROCLINIC_STATE.is_file():
        return None
    try:
        return BaroclinicState.load(SHIPPED_BAROCLINIC_STATE, params)
    except ValueError:
        return None


def with_params(params: BaroclinicParams, **changes: object) -> BaroclinicParams:
    """``params`` with some fields replaced (a convenience for tuning scripts)."""
    return replace(params, **changes)
