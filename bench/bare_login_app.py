"""Baseline app for bench/login.py: a bare FastAPI login endpoint that only verifies one Argon2id hash.

Same parameters as the portal (m=19 MiB, t=2, p=1), same server settings; no database, no session,
no audit. The hash to verify comes from ``SSCARD_BENCH_HASH``.
"""

from __future__ import annotations

import os

from argon2 import PasswordHasher, Type
from fastapi import FastAPI
from pydantic import BaseModel

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)
HASH = os.environ.get("SSCARD_BENCH_HASH", "")

app = FastAPI()


class LoginIn(BaseModel):
    id_number: str
    password: str


@app.post("/api/v1/portal/login")
def login(body: LoginIn) -> dict[str, object]:
    HASHER.verify(HASH, body.password)
    return {"access_token": "bare", "must_change_password": False}


@app.get("/api/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
