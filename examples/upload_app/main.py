"""Upload service: CSV imports, orders and the newsletter."""
import asyncio
import logging
import os
import uuid
from pathlib import Path

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, HTTPException, UploadFile
from pydantic import BaseModel
from sqlalchemy.orm import Session

from . import tasks
from .db import SessionDep, get_db
from .mail import send_email
from .models import Order, Upload
from .tasks import process_csv, send_receipt

logger = logging.getLogger(__name__)
UPLOAD_DIR = Path(os.getenv("UPLOAD_DIR", "/var/lib/uploads/incoming"))
EDITOR_EMAIL = os.getenv("EDITOR_EMAIL", "editor@example.com")

app = FastAPI(title="Upload service")
router = APIRouter(prefix="/api")


class OrderIn(BaseModel):
    user_id: int
    email: str
    sku: str
    quantity: int
    total: float


class NewsletterIn(BaseModel):
    subject: str
    body: str
    recipients: list[str]


@router.post("/uploads", status_code=202)
async def upload_csv(file: UploadFile, background_tasks: BackgroundTasks):
    if not file.filename or not file.filename.endswith(".csv"):
        raise HTTPException(status_code=400, detail="only .csv files are accepted")
    content = await file.read()
    path = UPLOAD_DIR / f"{uuid.uuid4().hex}_{file.filename}"
    with open(path, "wb") as out:
        out.write(content)
    logger.info("stored %s (%d bytes)", path, len(content))
    background_tasks.add_task(tasks.record_upload, file.filename, str(path))
    background_tasks.add_task(process_csv(str(path)))
    background_tasks.add_task(tasks.archive_original, file, path.name)
    return {"status": "processing", "file": path.name}


@router.post("/uploads/{upload_id}/reprocess", status_code=202)
def reprocess_upload(upload_id: int, db: SessionDep, background_tasks: BackgroundTasks):
    upload = db.get(Upload, upload_id)
    if upload is None:
        raise HTTPException(status_code=404, detail="unknown upload")
    background_tasks.add_task(process_csv, upload.path)
    background_tasks.add_task(tasks.sync_partner, upload.path)
    return {"status": "processing", "upload_id": upload.id}


@router.post("/orders", status_code=201)
def create_order(
    payload: OrderIn,
    background_tasks: BackgroundTasks,
    db: Session = Depends(get_db),
):
    order = Order(
        user_id=payload.user_id,
        sku=payload.sku,
        quantity=payload.quantity,
        total=payload.total,
    )
    db.add(order)
    db.commit()
    db.refresh(order)
    background_tasks.add_task(send_receipt, order, payload.email)
    background_tasks.add_task(
        tasks.update_inventory,
        db,
        order.id,
    )
    background_tasks.add_task(tasks.refresh_user_stats, payload.user_id)
    background_tasks.add_task(tasks.notify_webhook, "order.created", {"order_id": order.id})
    return {"id": order.id, "status": order.status}


@router.post("/newsletter", status_code=202)
async def send_newsletter(issue: NewsletterIn):
    # The editor gets a proof first so typos are caught before the broadcast.
    send_email(EDITOR_EMAIL, f"[proof] {issue.subject}", issue.body)
    asyncio.create_task(tasks.broadcast_newsletter(issue.subject, issue.body, issue.recipients))
    return {"status": "queued", "recipients": len(issue.recipients)}


@router.get("/health")
async def health():
    return {"ok": True}


app.include_router(router)
