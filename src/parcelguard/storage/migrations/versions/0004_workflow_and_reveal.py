"""Workflow facts for the reveal policies, virtual numbers and label-token redemptions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "employees",
        sa.Column("employee_id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("hired_on", sa.Date, nullable=False),
        sa.Column("left_on", sa.Date, nullable=True),
    )
    op.create_table(
        "sites",
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("adcode", sa.String(6), nullable=False),
    )
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_devices_employee_id", "devices", ["employee_id"])
    op.create_table(
        "parcel_status",
        sa.Column("waybill_no", sa.String(32), primary_key=True),
        sa.Column("current_site_id", sa.String(64), nullable=True),
        sa.Column("last_scan_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_parcel_status_current_site_id", "parcel_status", ["current_site_id"])
    op.create_table(
        "assignments",
        sa.Column("waybill_no", sa.String(32), primary_key=True),
        sa.Column("courier_id", sa.String(64), primary_key=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_assignments_courier", "assignments", ["courier_id", "assigned_at"])
    op.create_table(
        "parcel_exceptions",
        sa.Column("waybill_no", sa.String(32), primary_key=True),
        sa.Column("site_id", sa.String(64), primary_key=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "tickets",
        sa.Column("ticket_id", sa.String(64), primary_key=True),
        sa.Column("waybill_no", sa.String(32), nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kind", sa.String(24), nullable=False),
    )
    op.create_index("ix_tickets_agent_id", "tickets", ["agent_id"])
    op.create_index("ix_tickets_waybill_no", "tickets", ["waybill_no"])
    op.create_table(
        "investigation_cases",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("opened_by", sa.String(64), nullable=False),
        sa.Column("approved_by", sa.String(64), nullable=True),
        sa.Column("justification", sa.Text, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "case_waybills",
        sa.Column(
            "case_id", sa.String(64), sa.ForeignKey("investigation_cases.case_id"), primary_key=True
        ),
        sa.Column("waybill_no", sa.String(32), primary_key=True),
    )
    op.create_table(
        "vnum_pool",
        sa.Column("number", sa.String(20), primary_key=True),
        sa.Column("quarantined_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "vnum_bindings",
        sa.Column("binding_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(20), sa.ForeignKey("vnum_pool.number"), nullable=False),
        sa.Column("waybill_no", sa.String(32), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_vnum_bindings_number", "vnum_bindings", ["number", "bound_at"])
    op.create_index(
        "ix_vnum_bindings_waybill_employee", "vnum_bindings", ["waybill_no", "employee_id"]
    )
    op.create_table(
        "label_token_redemptions",
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("first_redeemed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("label_token_redemptions")
    op.drop_table("vnum_bindings")
    op.drop_table("vnum_pool")
    op.drop_table("case_waybills")
    op.drop_table("investigation_cases")
    op.drop_table("tickets")
    op.drop_table("parcel_exceptions")
    op.drop_table("assignments")
    op.drop_table("parcel_status")
    op.drop_table("devices")
    op.drop_table("sites")
    op.drop_table("employees")
