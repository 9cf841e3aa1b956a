from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from custody.accounts.auth import new_totp_device, sign_in
from custody.accounts.models import User
from custody.core import audit

PENDING_USER = "custody_pending_otp_user"


@login_not_required
def login_view(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        result = sign_in(request, request.POST.get("username", ""), request.POST.get("password", ""), request.POST.get("otp_token", ""))
        if result.needs_otp_setup:
            request.session[PENDING_USER] = result.user.pk
            return redirect("accounts:otp_setup")
        if result.user is not None:
            login(request, result.user)
            if result.device is not None:
                otp_login(request, result.device)
            audit.record(request, "sign_in", obj=result.user)
            nxt = request.POST.get("next") or ""
            if nxt and url_has_allowed_host_and_scheme(nxt, {request.get_host()}):
                return redirect(nxt)
            return redirect("home")
        error = result.error
    return render(request, "accounts/login.html", {"error": error, "next": request.GET.get("next", ""), "page_classification": 0})


@login_not_required
def otp_setup_view(request: HttpRequest) -> HttpResponse:
    """First sign-in outside demo mode: enrol an authenticator, confirm one code, then sign in."""
    user_pk = request.session.get(PENDING_USER)
    if not user_pk:
        return redirect("accounts:login")
    user = User.objects.get(pk=user_pk)
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first() or new_totp_device(user)
    error = ""
    if request.method == "POST":
        if device.verify_token(request.POST.get("otp_token", "").strip()):
            device.confirmed = True
            device.save()
            del request.session[PENDING_USER]
            login(request, user)
            otp_login(request, device)
            audit.record(request, "otp_enrolled", obj=user)
            audit.record(request, "sign_in", obj=user)
            return redirect("home")
        error = _("That code does not match. Check the time on your phone and try the newest code.")
    img = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    buf = io.BytesIO()
    img.save(buf)
    return render(request, "accounts/otp_setup.html", {"qr_svg": buf.getvalue().decode(), "secret": device.bin_key.hex(), "error": error, "page_classification": 0})


@login_not_required
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        audit.record(request, "sign_out", obj=request.user)
    logout(request)
    messages.info(request, _("You have signed out."))
    return redirect("accounts:login")
