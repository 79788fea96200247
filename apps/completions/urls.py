from django.urls import path

from apps.completions import views

urlpatterns = [
    path("v1/chat/completions", views.chat_completions),
    path("v1/models", views.models_list),
    path("v1/models/<path:model_id>", views.model_detail),
]
