"""Background jobs: CSV import, archiving, receipts, inventory and the newsletter."""
import asyncio
import csv
import logging
import os
import time
from pathlib import Path

import asyncpg
import requests
from fastapi import Depends, UploadFile
from sqlalchemy import text
from sqlalchemy.orm import Session

from .db import SessionLocal, get_db
from .mail import send_email
from .models import Order, Upload, User

logger = logging.getLogger(__name__)
WAREHOUSE_DSN = os.getenv("WAREHOUSE_DSN", "postgresql://etl:etl@warehouse:5432/etl")
WEBHOOK_URL = os.getenv("WEBHOOK_URL", "https://hooks.example.com/shop")
PARTNER_URL = os.getenv("PARTNER_URL", "https://partner.example.com/api/imports")
ARCHIVE_DIR = Path(os.getenv("ARCHIVE_DIR", "/var/lib/uploads/archive"))


def parse_rows(path: str) -> list[dict]:
    with open(path, newline="") as fh:
        return [row for row in csv.DictReader(fh) if row.get("sku")]


async def process_csv(path: str) -> None:
    rows = parse_rows(path)
    conn = await asyncpg.connect(WAREHOUSE_DSN)
    try:
        records = [(row["sku"], int(row["qty"])) for row in rows]
        await conn.executemany("INSERT INTO stock_levels (sku, qty) VALUES ($1, $2)", records)
    finally:
        await conn.close()
    logger.info("imported %d rows from %s", len(rows), path)


def archive_original(file: UploadFile, name: str) -> None:
    try:
        (ARCHIVE_DIR / name).write_bytes(file.file.read())
    except Exception:
        logger.exception("could not archive %s", name)
        raise


def record_upload(filename: str, path: str) -> None:
    db = SessionLocal()
    try:
        db.add(Upload(filename=filename, path=path, status="received"))
        db.commit()
    except Exception:
        logger.exception("could not record upload %s", filename)
        raise
    finally:
        db.close()


async def sync_partner(path: str) -> None:
    try:
        for attempt in range(3):
            resp = requests.get(PARTNER_URL, params={"file": Path(path).name}, timeout=5)
            if resp.ok:
                return
            time.sleep(2**attempt)
        resp.raise_for_status()
    except Exception:
        logger.exception("partner sync failed for %s", path)
        raise


def send_receipt(order: Order, email: str) -> None:
    try:
        body = f"Hi {order.user.name}, thanks for buying {order.quantity} x {order.sku}!"
        send_email(email, f"Your order #{order.id} ({order.total:.2f} EUR)", body)
    except Exception as e:
        print(f"could not send receipt: {e}")


def update_inventory(db: Session, order_id: int) -> None:
    try:
        order = db.get(Order, order_id)
        stmt = text("UPDATE stock SET qty = qty - :n WHERE sku = :sku")
        db.execute(stmt, {"n": order.quantity, "sku": order.sku})
        db.commit()
    except Exception:
        logger.exception("inventory update failed for order %s", order_id)
        raise


def refresh_user_stats(user_id: int,
                       db: Session = Depends(get_db)) -> None:
    try:
        user = db.get(User, user_id)
        user.order_count = db.query(Order).filter(Order.user_id == user_id).count()
        db.commit()
    except Exception:
        logger.exception("stats refresh failed for user %s", user_id)
        raise


def notify_webhook(event: str, payload: dict) -> None:
    try:
        requests.post(WEBHOOK_URL, json={"event": event, **payload}).raise_for_status()
    except Exception:
        logger.exception("webhook %s failed", event)
        raise


async def broadcast_newsletter(subject: str, body: str, recipients: list[str]) -> None:
    try:
        for address in recipients:
            await asyncio.to_thread(send_email, address, subject, body)
    except Exception:
        logger.exception("newsletter %r stopped early", subject)
        raise
