"""A forced-dissipative shallow-water model on the sphere: the demo world's physics.

Built on torch-harmonics' :class:`~torch_harmonics.examples.ShallowWaterSolver` (spectral transforms, the
nonlinear tendencies of geopotential φ = g h, relative vorticity ζ and divergence δ), with what a statistically
stationary "climate" needs:

- Newtonian relaxation of the zonal-mean geopotential towards a jet-like equilibrium profile
  φ_eq(ϕ) = φ₀ − s·Δφ/2 · erf((|ϕ| − ϕ_j)/w_j)  (s = 1 in the north, ``southern_gradient`` in the south),
  time scale ``tau_relax_days``: a baroclinic-like forcing that keeps mid-latitude jets unstable;
- three smooth mountains (surface geopotential φ_s, two in the north, one in the south) that anchor
  stationary waves and break the zonal symmetry, so the jets stay unstable and the flow chaotic;
- linear drag on ζ and δ (``tau_drag_days``) and scale-selective ∇⁸ hyperdiffusion (e-folding time
  ``tau_hyperdiffusion_hours`` at the truncation) as dissipation, and a damping of tropical departures from the
  zonal mean (:meth:`ForcedShallowWater.damp_tropical_eddies`, once per sample) so the tropics stay quiet as
  at 500 hPa;
- a semi-implicit (trapezoidal) treatment of the linear gravity-wave terms with third-order Adams–Bashforth
  for the rest, so a 15-minute step is stable at T42.

State: spectral coefficients ``[3, lmax, mmax]`` complex128 of (φ, ζ, δ).  Units: φ in m² s⁻², ζ and δ in s⁻¹.
"""

from __future__ import annotations

import warnings

import torch
from torch_harmonics.examples import ShallowWaterSolver


class ForcedShallowWater(ShallowWaterSolver):
    """See module docstring.  ``step(state, n)`` advances ``n`` time steps of ``dt`` seconds."""

    def __init__(
        self,
        *,
        nlat: int = 64,
        nlon: int = 128,
        lmax: int = 43,
        dt: float = 900.0,
        phi0: float = 5.4e4,
        delta_phi: float = 1.1e4,
        jet_latitude_deg: float = 45.0,
        jet_width_deg: float = 9.0,
        southern_gradient: float = 0.85,
        tau_relax_days: float = 4.0,
        tau_drag_days: float = 20.0,
        tau_hyperdiffusion_hours: float = 12.0,
        mountain_geopotential: float = 1.0e4,
        tropical_damping_days: float = 1.0,
        tropical_damping_width_deg: float = 15.0,
        stir_amplitude: float = 0.0,
        stir_l_min: int = 6,
        stir_l_max: int = 14,
    ) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            super().__init__(nlat, nlon, dt, lmax=lmax, mmax=lmax, grid="legendre-gauss", havg=phi0 / 9.80616)
        self.phi0 = phi0
        lat_deg = torch.rad2deg(self.lats).reshape(-1, 1).expand(nlat, nlon)
        slope = torch.where(lat_deg >= 0, torch.ones_like(lat_deg), torch.full_like(lat_deg, southern_gradient))
        phi_eq = phi0 - slope * delta_phi / 2 * torch.special.erf((lat_deg.abs() - jet_latitude_deg) / jet_width_deg)
        self.register_buffer("phi_eq", self.grid2spec(phi_eq))
        lat = self.lats.reshape(-1, 1).expand(nlat, nlon)
        lon = self.lons.reshape(1, -1).expand(nlat, nlon)
        mountains = mountain_geopotential * (
            _bump(lat, lon, 40.0, 255.0, 0.25)
            + _bump(lat, lon, 35.0, 85.0, 0.30)
            + 0.5 * _bump(lat, lon, -30.0, 290.0, 0.20)
        )
        self.register_buffer("phi_surface", self.spec2grid(self.grid2spec(mountains)))
        tropics = torch.exp(-((torch.rad2deg(self.lats).reshape(-1, 1) / tropical_damping_width_deg) ** 2))
        self.register_buffer("tropics", tropics)
        self.tropical_damping_days = tropical_damping_days
        band = ((self.l >= stir_l_min) & (self.l <= stir_l_max)).to(torch.float64)
        band[:, 0] = 0.0  # no zonal-mean stirring
        self.register_buffer("stir_band", torch.tril(band))
        envelope = torch.exp(-(((torch.rad2deg(self.lats).abs() - 45.0) / 15.0) ** 2))
        self.register_buffer("stir_envelope", envelope.reshape(-1, 1))
        self.stir_amplitude = stir_amplitude
        self.stir: torch.Tensor | None = None
        self.register_buffer("k2", (-self.lap).clone())
        top = self.lmax - 1
        scale = (self.l * (self.l + 1) / (top * (top + 1))) ** 4
        self.register_buffer("hyperdiffusion", torch.exp(-dt / (tau_hyperdiffusion_hours * 3600.0) * scale))
        self.relax_rate = 1.0 / (tau_relax_days * 86400.0)
        self.drag_rate = 1.0 / (tau_drag_days * 86400.0)

    def initial_state(self, seed: int) -> torch.Tensor:
        """φ at equilibrium, a tiny seeded random vorticity, no divergence: ``[3, lmax, mmax]`` complex128."""
        gen = torch.Generator().manual_seed(seed)
        state = torch.zeros(3, self.lmax, self.mmax, dtype=torch.complex128, device=self.lap.device)
        state[0] = self.phi_eq
        noise = torch.randn(self.lmax, self.mmax, 2, generator=gen, dtype=torch.float64)
        state[1] = torch.view_as_complex(noise).to(state.device) * 1e-6
        return torch.tril(state)

    def _nonlinear(self, state: torch.Tensor) -> torch.Tensor:
        """Adiabatic tendencies of (φ, ζ, δ) with the mass flux over mountains, u (φ − φ_s).

        ``state`` is ``[..., 3, lmax, mmax]``: any leading (member) dimensions are carried through.
        """
        tend = torch.zeros_like(state)
        grid = self.spec2grid(state)
        wind = self.getuv(state[..., 1:, :, :])
        vort_flux = self.vrtdivspec(wind * (grid[..., 1:2, :, :] + self.coriolis))
        tend[..., 1, :, :] = -vort_flux[..., 1, :, :]
        tend[..., 2, :, :] = vort_flux[..., 0, :, :]
        tend[..., 0, :, :] = -self.vrtdivspec(wind * (grid[..., 0:1, :, :] - self.phi_surface))[..., 1, :, :]
        kinetic = 0.5 * (wind[..., 0, :, :] ** 2 + wind[..., 1, :, :] ** 2)
        tend[..., 2, :, :] = tend[..., 2, :, :] - self.lap * self.grid2spec(grid[..., 0, :, :] + kinetic)
        return tend

    def damp_tropical_eddies(self, state: torch.Tensor, hours: float) -> torch.Tensor:
        """Relax tropical departures from the zonal mean: factor exp(−(hours/24)/τ · exp(−(ϕ/w)²))."""
        grid = self.spec2grid(state)
        zonal = grid.mean(-1, keepdim=True)
        factor = torch.exp(-(hours / 24.0) / self.tropical_damping_days * self.tropics)
        return self.grid2spec(zonal + (grid - zonal) * factor)

    def set_stirring(self, generator: torch.Generator | None) -> None:
        """Draw the vorticity stirring held for the next sample interval (None: no stirring).

        White noise in the spectral band ``stir_l_min … stir_l_max`` (m ≥ 1), confined to mid-latitudes by a
        Gaussian envelope around ±45°, with rms ``stir_amplitude`` s⁻²: weather from unresolved processes, which
        no forecast model can know — a pure function of the generator, so the truth stays deterministic.
        """
        if generator is None or self.stir_amplitude == 0.0:
            self.stir = None
            return
        self.stir = self._draw_stirring(generator)

    def set_member_stirring(self, generators: list[torch.Generator] | None) -> None:
        """Like :meth:`set_stirring` for a batch of states ``[B, 3, lmax, mmax]``: one draw per member,
        ``stir`` of shape ``[B, lmax, mmax]`` (None or zero amplitude: no stirring)."""
        if not generators or self.stir_amplitude == 0.0:
            self.stir = None
            return
        self.stir = torch.stack([self._draw_stirring(gen) for gen in generators])

    def _draw_stirring(self, generator: torch.Generator) -> torch.Tensor:
        draw = torch.randn(self.lmax, self.mmax, 2, generator=generator, dtype=torch.float64)
        coeffs = torch.view_as_complex(draw).to(self.stir_band.device) * self.stir_band
        grid = self.spec2grid(coeffs)
        grid = grid / grid.pow(2).mean().sqrt().clamp_min(1e-30) * self.stir_amplitude * self.stir_envelope
        return self.grid2spec(grid)

    def advance(self, state: torch.Tensor, hours: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """One sample interval: stirring drawn from ``generator``, the dynamics for ``hours``, tropical damping."""
        self.set_stirring(generator)
        return self.damp_tropical_eddies(self.step(state, self.steps_per(hours)), hours)

    def _explicit_tendency(self, state: torch.Tensor) -> torch.Tensor:
        """Nonlinear terms + forcing + drag, without the linear gravity-wave terms (treated implicitly)."""
        tend = self._nonlinear(state)
        if self.stir is not None:
            tend[..., 1, :, :] = tend[..., 1, :, :] + self.stir
        tend[..., 0, :, 0] = tend[..., 0, :, 0] - self.relax_rate * (state[..., 0, :, 0] - self.phi_eq[:, 0])
        tend[..., 1:, :, :] = tend[..., 1:, :, :] - self.drag_rate * state[..., 1:, :, :]
        tend[..., 0, :, :] = tend[..., 0, :, :] + self.phi0 * state[..., 2, :, :]
        tend[..., 2, :, :] = tend[..., 2, :, :] - self.k2 * state[..., 0, :, :]
        return tend

    def step(self, state: torch.Tensor, n_steps: int) -> torch.Tensor:
        """Advance ``n_steps`` steps (AB3 explicit + trapezoidal gravity waves + hyperdiffusion)."""
        dt, phi0, k2 = self.dt, self.phi0, self.k2
        history: list[torch.Tensor] = []
        for _ in range(n_steps):
            history.insert(0, self._explicit_tendency(state))
            history = history[:3]
            if len(history) == 1:
                explicit = history[0]
            elif len(history) == 2:
                explicit = 1.5 * history[0] - 0.5 * history[1]
            else:
                explicit = (23 * history[0] - 16 * history[1] + 5 * history[2]) / 12
            phi_now, vort_now, div_now = state[..., 0, :, :], state[..., 1, :, :], state[..., 2, :, :]
            rhs_phi = phi_now + dt * explicit[..., 0, :, :] - 0.5 * dt * phi0 * div_now
            rhs_div = div_now + dt * explicit[..., 2, :, :] + 0.5 * dt * k2 * phi_now
            div = (rhs_div + 0.5 * dt * k2 * rhs_phi) / (1 + 0.25 * dt * dt * k2 * phi0)
            phi = rhs_phi - 0.5 * dt * phi0 * div
            vort = vort_now + dt * explicit[..., 1, :, :]
            state = torch.stack([phi, vort, div], dim=-3) * self.hyperdiffusion
        return state

    def steps_per(self, hours: float) -> int:
        n = hours * 3600.0 / self.dt
        if abs(n - round(n)) > 1e-9:
            raise ValueError(f"{hours} h is not a whole number of {self.dt} s steps")
        return int(round(n))


def _bump(lat: torch.Tensor, lon: torch.Tensor, lat0_deg: float, lon0_deg: float, radius: float) -> torch.Tensor:
    """Gaussian of the great-circle distance (radians) from (lat0, lon0), e-folding at ``radius`` radians."""
    la0, lo0 = torch.deg2rad(torch.tensor(lat0_deg)), torch.deg2rad(torch.tensor(lon0_deg))
    cosd = torch.sin(lat) * torch.sin(la0) + torch.cos(lat) * torch.cos(la0) * torch.cos(lon - lo0)
    return torch.exp(-((torch.arccos(cosd.clamp(-1.0, 1.0)) / radius) ** 2))
