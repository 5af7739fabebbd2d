"""Staff API: POST /api/capital/deposit and /api/capital/withdraw (DESIGN §15.4).

A capital flow resizes every later order, so each kind has its own permission and every request
carries an idempotency key (the ``Idempotency-Key`` header, or an ``idempotency_key`` field): the
same key again answers the flow it booked (200, ``Idempotent-Replayed: true``) instead of booking
twice; the same key with another amount or kind is a 409.  Keys are per user.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_permissions import staff_with
from portfolio.models import CapitalTransaction, TransactionKind
from portfolio.services import IdempotencyConflict, PortfolioNotInitialised, capital_flow_record

KEY_RE = re.compile(r"[\x21-\x7e]{1,64}")  # printable ASCII, no spaces


class CapitalFlowOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = CapitalTransaction
        fields = ["id", "kind", "amount", "equity_before", "equity_after", "note", "created_by", "created_at"]


class CapitalFlowInputSerializer(serializers.Serializer):
    amount = serializers.CharField(max_length=40, help_text="Rupees, at most two decimals, e.g. \"250000.00\"")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    idempotency_key = serializers.CharField(required=False, help_text="Or the Idempotency-Key header")


class _CapitalFlowApi(APIView):
    kind: str
    serializer_class = CapitalFlowOutputSerializer

    def post(self, request):
        data = CapitalFlowInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = (request.headers.get("Idempotency-Key") or data.validated_data.get("idempotency_key") or "").strip()
        if not KEY_RE.fullmatch(key):
            raise ApiValidationError({"idempotency_key": ["required: 1 to 64 printable ASCII characters, in the "
                                                          "Idempotency-Key header or this field"]})
        try:
            entry, booked = capital_flow_record(
                kind=self.kind, amount=data.validated_data["amount"], actor=request.user.get_username(),
                note=data.validated_data["note"], idempotency_key=f"api:{request.user.pk}:{key}")
        except ValidationError as exc:
            raise ApiValidationError(exc.message_dict) from None
        except PortfolioNotInitialised as exc:
            raise NotFound(str(exc)) from None
        except IdempotencyConflict as exc:
            return Response({"idempotency_key": [str(exc)]}, status=status.HTTP_409_CONFLICT)
        body = CapitalFlowOutputSerializer(entry).data
        if booked:
            return Response(body, status=status.HTTP_201_CREATED)
        return Response(body, status=status.HTTP_200_OK, headers={"Idempotent-Replayed": "true"})


class CapitalDepositApi(_CapitalFlowApi):
    kind = TransactionKind.DEPOSIT
    permission_classes = staff_with("portfolio.deposit_capital")


class CapitalWithdrawApi(_CapitalFlowApi):
    kind = TransactionKind.WITHDRAW
    permission_classes = staff_with("portfolio.withdraw_capital")
