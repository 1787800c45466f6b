from rest_framework import serializers

from .models import Cluster


class ClusterSerializer(serializers.ModelSerializer):
    class Meta:
        model = Cluster
        fields = ["id", "cluster_name"]
        read_only_fields = fields
