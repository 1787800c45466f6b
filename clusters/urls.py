from django.urls import path

from . import views

urlpatterns = [path("clusters/", views.ClusterListView.as_view(), name="cluster-list")]
