"""The outcome of an ingestion: one row per scene and per tile, and a text table of them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from jobs.models import JobStatus


class OutcomeRow(BaseModel):
    kind: str  # "scene" or "tile"
    id: str
    date: str
    status: JobStatus
    message: str = ""
    outputs: list[str] = Field(default_factory=list)
    provider: str = Field(default="", description="Who delivered the product (scenes)")
    bytes_fetched: int = Field(default=0, description="Bytes it delivered (scenes)")
    bytes_by_provider: dict[str, int] = Field(default_factory=dict, description="Bytes per provider (scenes)")


class IngestionSummary(BaseModel):
    aoi: str
    mode: str
    rows: list[OutcomeRow] = Field(default_factory=list)
    truncated: bool = False

    def count(self, kind: str, status: JobStatus) -> int:
        return sum(1 for r in self.rows if r.kind == kind and r.status == status)

    @property
    def failed(self) -> bool:
        return any(r.status != JobStatus.DONE for r in self.rows)

    def fetched_by_provider(self) -> dict[str, int]:
        """Bytes delivered per provider (each provider downloads with one account): what to check
        against an account's quota."""
        totals: dict[str, int] = {}
        for row in self.rows:
            if row.kind != "scene":
                continue
            delivered = row.bytes_by_provider or ({row.provider: row.bytes_fetched} if row.provider else {})
            for provider, nbytes in delivered.items():
                totals[provider] = totals.get(provider, 0) + nbytes
        return totals

    def headline(self) -> str:
        parts = []
        for kind in ("scene", "tile"):
            total = sum(1 for r in self.rows if r.kind == kind)
            done = self.count(kind, JobStatus.DONE)
            bad = self.count(kind, JobStatus.FAILED)
            skipped = self.count(kind, JobStatus.SKIPPED)
            parts.append(f"{kind}s: {done}/{total} done, {bad} failed, {skipped} skipped")
        fetched = self.fetched_by_provider()
        if fetched:
            parts.append("fetched " + ", ".join(f"{p} {n / 1e9:.2f} GB" for p, n in sorted(fetched.items())))
        return f"{self.aoi}: " + "; ".join(parts)

    def table(self) -> str:
        """A fixed-width text table (the demo prints it; the flow logs it)."""
        header = ("kind", "id", "date", "status", "outputs", "message")
        lines = [
            (r.kind, r.id, r.date, r.status.value, str(len(r.outputs)), r.message[:160]) for r in self.rows
        ]
        widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=False)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
        out += [fmt.format(*line) for line in lines]
        return "\n".join(out)
